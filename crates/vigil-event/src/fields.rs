//! The field registry: every event field a rule may name, by its dotted path
//! in the event's JSON form (`src_endpoint.ip`, `http_request.url.path`,
//! `query.hostname`, `finding_info.analytic.uid`), with its type, the OCSF
//! classes that carry it, and an accessor that reads it from a typed
//! [`Event`] without serializing it.
//!
//! Rules resolve a name here once, when they are compiled; evaluating a rule
//! then calls the accessor directly. A name that is not here is not a field
//! of the schema (the rule compiler suggests the nearest one).

use std::net::IpAddr;

use crate::event::{Body, Event};

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text.
    Str,
    /// A whole number (counts, ports, ids, milliseconds).
    Int,
    /// An IPv4 or IPv6 address.
    Ip,
    /// True or false.
    Bool,
}

impl FieldType {
    /// The name used in error messages and `vigil rules fields`.
    pub const fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Int => "integer",
            FieldType::Ip => "ip",
            FieldType::Bool => "boolean",
        }
    }
}

/// One value of a field, borrowed from the event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(&'a str),
    /// A whole number.
    Int(i64),
    /// An address.
    Ip(IpAddr),
    /// A flag.
    Bool(bool),
}

/// How a field is read: one value (or none), or every value of a list field.
#[derive(Clone, Copy)]
pub enum Access {
    /// A field with at most one value.
    One(for<'e> fn(&'e Event) -> Option<FieldValue<'e>>),
    /// A field with any number of values (DNS answers, certificate SANs,
    /// observables); the visitor stops early when the callback returns false.
    Many(for<'e> fn(&'e Event, &mut dyn FnMut(FieldValue<'e>) -> bool)),
}

/// One field of the schema.
#[derive(Clone, Copy)]
pub struct FieldDef {
    /// The dotted path, as in the event's JSON form.
    pub name: &'static str,
    /// The type of its values.
    pub ty: FieldType,
    /// The OCSF `class_uid`s whose events can carry it; empty for fields every
    /// event has (time, severity, metadata, observables).
    pub classes: &'static [u32],
    /// One line saying what it is.
    pub doc: &'static str,
    /// The accessor.
    pub access: Access,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::One(_) => "One",
            Access::Many(_) => "Many",
        })
    }
}

impl std::fmt::Debug for FieldDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldDef")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("classes", &self.classes)
            .finish()
    }
}

impl FieldDef {
    /// The first value of the field in `event`, if it has one.
    pub fn first<'e>(&self, event: &'e Event) -> Option<FieldValue<'e>> {
        match self.access {
            Access::One(get) => get(event),
            Access::Many(visit) => {
                let mut found = None;
                visit(event, &mut |v| {
                    found = Some(v);
                    false
                });
                found
            }
        }
    }

    /// Call `f` with each value of the field in `event` until it returns false.
    pub fn for_each<'e>(&self, event: &'e Event, f: &mut dyn FnMut(FieldValue<'e>) -> bool) {
        match self.access {
            Access::One(get) => {
                if let Some(v) = get(event) {
                    f(v);
                }
            }
            Access::Many(visit) => visit(event, f),
        }
    }
}

/// Every field of the schema.
pub fn all() -> &'static [FieldDef] {
    FIELDS
}

/// The field named `name`, if the schema has it.
pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name == name)
}

const ANY: &[u32] = &[];
const NET: &[u32] = &[4001, 4002, 4003, 4007];

fn src_endpoint(e: &Event) -> Option<&crate::network::Endpoint> {
    match &e.body {
        Body::Flow(r) => Some(&r.src_endpoint),
        Body::Dns(r) => Some(&r.src_endpoint),
        Body::Http(r) => Some(&r.src_endpoint),
        Body::Tls(r) => Some(&r.src_endpoint),
        Body::Ssh(r) => Some(&r.src_endpoint),
        Body::Finding(r) => r.src_endpoint.as_ref(),
        Body::Stats(_) => None,
    }
}

const FIELDS: &[FieldDef] = &[
    FieldDef {
        name: "time",
        ty: FieldType::Int,
        classes: ANY,
        doc: "event time, milliseconds since the epoch",
        access: Access::One(|e| Some(FieldValue::Int(e.time))),
    },
    FieldDef {
        name: "class_uid",
        ty: FieldType::Int,
        classes: ANY,
        doc: "OCSF class id (4001 network, 4002 HTTP, 4003 DNS, 2004 finding)",
        access: Access::One(|e| Some(FieldValue::Int(i64::from(e.class_uid)))),
    },
    FieldDef {
        name: "src_endpoint.ip",
        ty: FieldType::Ip,
        classes: NET,
        doc: "the client or initiator address",
        access: Access::One(|e| src_endpoint(e).map(|p| FieldValue::Ip(p.ip))),
    },
    FieldDef {
        name: "http_request.url.path",
        ty: FieldType::Str,
        classes: &[4002],
        doc: "the request path, without the query",
        access: Access::One(|e| match &e.body {
            Body::Http(h) => Some(FieldValue::Str(&h.http_request.url.path)),
            _ => None,
        }),
    },
    FieldDef {
        name: "observables.value",
        ty: FieldType::Str,
        classes: ANY,
        doc: "every observable's value (IPs, names, URLs, fingerprints)",
        access: Access::Many(|e, f| {
            for o in &e.observables {
                if !f(FieldValue::Str(&o.value)) {
                    break;
                }
            }
        }),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = all().iter().map(|f| f.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
