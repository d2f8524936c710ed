#!/usr/bin/env python3
"""Scores CrowdSec's alerts and Vigil's bot findings against vigil-webgen's labels and
prints the side-by-side Markdown table of bench/crowdsec.sh.

    score.py --labels labels.jsonl --lines N
             [--crowdsec-alerts alerts.json --crowdsec-time time.txt]
             [--vigil-findings findings.jsonl --vigil-time time.txt]

The unit is the labelled actor (one person, crawler, scraper, ...; a rotating scraper
has several labelled entities, a NAT gateway's people share one address). An actor is
flagged when a detection covers one of its labelled entities:

- CrowdSec: an alert whose source is the entity's address (scope Ip) or a range
  holding it (scope Range): CrowdSec decides per address, and its ban would block
  the actor.
- Vigil: a finding (`"record":"finding"`, analytic uid `bot:<class>`) other than
  `bot:good_bot` (a verified crawler is a verdict, not a flag), matched by the
  finding's entity (evidence.entity): `ip` covers every entity with that address,
  `ip_ua` the entities with that address and user agent, `session` the entities
  with that session cookie, `prefix` every entity in that /24 or /64. Findings
  without an entity fall back to the address (src_endpoint.ip, or the subject).

"Recall" per subtype is flagged actors / actors; for people and verified crawlers the
same figure is the share wrongly flagged. Time files hold "wall user sys maxrss_kib"
(GNU time -f '%e %U %S %M'). Standard library only.
"""

import argparse
import collections
import ipaddress
import json
import sys

BOT_ORDER = [
    ("scraper", "fast"),
    ("scraper", "low_and_slow"),
    ("scraper", "fake_crawler"),
    ("attacker", "scanner"),
    ("attacker", "credential_stuffing"),
]
PEOPLE_ORDER = [("human", "browsing"), ("human", "flash_sale"), ("human", "gateway")]


def read_labels(path):
    labels = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                labels.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"score.py: {path} line {n}: {e}")
    return labels


def read_time(path):
    with open(path) as f:
        fields = f.read().split()
    wall, user, sys_, rss = (float(x) for x in fields[-4:])
    return {"wall": wall, "cpu": user + sys_, "rss_mib": rss / 1024}


def parse_ip(text):
    try:
        return ipaddress.ip_address(text)
    except (ValueError, TypeError):
        return None


def crowdsec_matches(path, labels):
    """Returns (alert count, per-scenario counter, set of matched label indexes,
    per-scenario set of matched label indexes)."""
    with open(path) as f:
        alerts = json.load(f) or []
    by_ip = collections.defaultdict(list)
    for i, label in enumerate(labels):
        by_ip[label["ip"]].append(i)
    matched = set()
    per_scenario = collections.defaultdict(set)
    scenarios = collections.Counter()
    for alert in alerts:
        source = alert.get("source") or {}
        scope = (source.get("scope") or "").lower()
        value = source.get("value") or source.get("ip") or ""
        scenario = alert.get("scenario", "?")
        scenarios[scenario] += 1
        hits = []
        if scope == "ip":
            ip = parse_ip(value)
            hits = by_ip.get(str(ip), []) if ip else []
        elif scope == "range":
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                net = None
            if net:
                hits = [i for i, l in enumerate(labels) if ipaddress.ip_address(l["ip"]) in net]
        matched.update(hits)
        per_scenario[scenario].update(hits)
    return len(alerts), scenarios, matched, per_scenario


def vigil_matches(path, labels):
    """Returns (finding count, per-class counter, matched label indexes, the same
    without /24 and /64 prefix findings, good-bot verdict label indexes)."""
    by_ip = collections.defaultdict(list)
    by_ip_ua = collections.defaultdict(list)
    by_session = collections.defaultdict(list)
    for i, label in enumerate(labels):
        by_ip[label["ip"]].append(i)
        by_ip_ua[(label["ip"], label.get("user_agent") or "")].append(i)
        if label.get("session"):
            by_session[label["session"]].append(i)
    findings = 0
    classes = collections.Counter()
    matched = set()
    direct = set()
    good = set()
    with open(path, errors="replace") as f:
        for line in f:
            if '"finding"' not in line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("record") != "finding":
                continue
            info = event.get("finding_info") or {}
            uid = (info.get("analytic") or {}).get("uid") or ""
            if not uid.startswith("bot:"):
                continue
            findings += 1
            cls = uid.split(":", 1)[1]
            classes[cls] += 1
            evidence = event.get("evidence") or {}
            entity = evidence.get("entity")
            subject = (event.get("subject") or {}).get("value") or ""
            ip = parse_ip((event.get("src_endpoint") or {}).get("ip"))
            if ip is None:
                ip = parse_ip(subject.split(" ", 1)[0])
            hits = []
            if entity == "ip_ua" and ip is not None:
                hits = by_ip_ua.get((str(ip), evidence.get("user_agent") or ""), [])
            elif entity == "session" and evidence.get("session"):
                hits = by_session.get(evidence["session"], [])
            elif entity == "prefix":
                try:
                    net = ipaddress.ip_network(subject.split(" ", 1)[0], strict=False)
                    hits = [i for i, l in enumerate(labels)
                            if ipaddress.ip_address(l["ip"]) in net]
                except ValueError:
                    hits = by_ip.get(str(ip), []) if ip else []
            elif ip is not None:
                hits = by_ip.get(str(ip), [])
            if cls == "good_bot":
                good.update(hits)
            else:
                matched.update(hits)
                if entity != "prefix":
                    direct.update(hits)
    return findings, classes, matched, direct, good


def actors_by_subtype(labels):
    actors = collections.defaultdict(set)
    for label in labels:
        actors[(label["class"], label["subtype"])].add(label["actor"])
    return actors


def flagged_actors(labels, matched):
    return {labels[i]["actor"] for i in matched}


def fmt_share(flagged, total):
    if total == 0:
        return "–"
    return f"{flagged}/{total} ({100.0 * flagged / total:.1f} %)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", required=True)
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--crowdsec-alerts")
    ap.add_argument("--crowdsec-time")
    ap.add_argument("--crowdsec-name", default="CrowdSec")
    ap.add_argument("--vigil-findings")
    ap.add_argument("--vigil-time")
    ap.add_argument("--vigil-name", default="Vigil")
    args = ap.parse_args()

    labels = read_labels(args.labels)
    actors = actors_by_subtype(labels)
    actor_subtype = {l["actor"]: (l["class"], l["subtype"]) for l in labels}

    tools = []  # (name, time, detections text, flagged actor set, extra lines)
    if args.crowdsec_alerts:
        count, scenarios, matched, per_scenario = crowdsec_matches(args.crowdsec_alerts, labels)
        flagged = flagged_actors(labels, matched)
        ips = {labels[i]["ip"] for i in matched}
        extra = []
        for scenario, n in scenarios.most_common():
            hit = collections.Counter(
                actor_subtype[a][1] for a in flagged_actors(labels, per_scenario[scenario])
            )
            what = ", ".join(f"{k} {v}" for k, v in sorted(hit.items())) or "no labelled actor"
            extra.append(f"| {scenario} | {n} | {what} |")
        tools.append({
            "name": args.crowdsec_name,
            "time": read_time(args.crowdsec_time) if args.crowdsec_time else None,
            "detections": f"{count} alerts on {len(ips)} addresses",
            "flagged": flagged,
            "extra_title": f"{args.crowdsec_name} alerts by scenario",
            "extra_head": "| scenario | alerts | labelled actors flagged (by subtype) |\n|---|---:|---|",
            "extra": extra,
            "good": set(),
        })
    if args.vigil_findings:
        count, classes, matched, direct, good = vigil_matches(args.vigil_findings, labels)
        flagged = flagged_actors(labels, matched)
        flagged_direct = flagged_actors(labels, direct)
        by_class = ", ".join(f"{k} {v}" for k, v in classes.most_common())
        tools.append({
            "name": args.vigil_name,
            "time": read_time(args.vigil_time) if args.vigil_time else None,
            "detections": f"{count} findings ({by_class or 'none'})",
            "flagged": flagged,
            "extra_title": None,
            "extra": [],
            "good": flagged_actors(labels, good),
            "direct": flagged_direct,
        })
    if not tools:
        sys.exit("score.py: nothing to score (give --crowdsec-alerts and/or --vigil-findings)")

    def row(title, cells):
        return "| " + title + " | " + " | ".join(cells) + " |"

    out = []
    out.append(row("", [t["name"] for t in tools]))
    out.append("|---|" + "---:|" * len(tools))
    out.append(row("log lines", [f"{args.lines:,}" for _ in tools]))

    def timed(key, f):
        return [f(t["time"][key]) if t["time"] else "–" for t in tools]

    out.append(row("wall time (s)", timed("wall", lambda v: f"{v:.2f}")))
    out.append(row("lines/s (wall)", timed("wall", lambda v: f"{args.lines / v:,.0f}" if v > 0 else "–")))
    out.append(row("CPU user+sys (s)", timed("cpu", lambda v: f"{v:.2f}")))
    out.append(row("lines per CPU second", timed("cpu", lambda v: f"{args.lines / v:,.0f}" if v > 0 else "–")))
    out.append(row("peak RSS (MiB)", timed("rss_mib", lambda v: f"{v:.0f}")))
    out.append(row("detections", [t["detections"] for t in tools]))

    bots_total = set()
    for key in BOT_ORDER:
        out.append(row(f"bots flagged: {key[1]} ({key[0]})",
                       [fmt_share(len(actors[key] & t["flagged"]), len(actors[key])) for t in tools]))
        bots_total |= actors[key]
    out.append(row("**bots flagged, all**",
                   [fmt_share(len(bots_total & t["flagged"]), len(bots_total)) for t in tools]))
    people_total = set()
    for key in PEOPLE_ORDER:
        out.append(row(f"people flagged: {key[1]}",
                       [fmt_share(len(actors[key] & t["flagged"]), len(actors[key])) for t in tools]))
        people_total |= actors[key]
    out.append(row("**people flagged, all**",
                   [fmt_share(len(people_total & t["flagged"]), len(people_total)) for t in tools]))
    out.append(row("people flagged by address, address+UA or session findings (no /24, /64)",
                   [fmt_share(len(people_total & t.get("direct", t["flagged"])), len(people_total))
                    for t in tools]))
    good_bots = set()
    for (cls, _), ids in actors.items():
        if cls == "good_bot":
            good_bots |= ids
    out.append(row("verified crawlers flagged",
                   [fmt_share(len(good_bots & t["flagged"]), len(good_bots)) for t in tools]))
    precision = []
    for t in tools:
        f = t["flagged"]
        precision.append(f"{len(f & bots_total) / len(f):.3f}" if f else "–")
    out.append(row("precision of flags (bots / flagged actors)", precision))

    for t in tools:
        if t["extra"]:
            out.append("")
            out.append(f"{t['extra_title']}:")
            out.append("")
            out.append(t["extra_head"])
            out.extend(t["extra"])
    print("\n".join(out))


if __name__ == "__main__":
    main()
