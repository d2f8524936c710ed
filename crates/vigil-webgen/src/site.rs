//! The site: a small shop (home, categories, products, blog posts, about/contact, /login,
//! /search, /cart, robots.txt, sitemap.xml, favicon) whose pages each reference their
//! assets (CSS, JS, fonts loaded by the CSS, images). The same [`Site`] is written as a
//! static tree for nginx to serve and, in direct mode, answers a request with the status
//! and byte count nginx would log ([`Site::respond`]), so both modes write the same lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::dist::{self, Rng};
use crate::Error;

/// Body bytes of nginx's built-in error pages with `server_tokens off` (nginx 1.22,
/// measured): 301, 400, 403, 404. The nginx end-to-end test checks them.
pub(crate) const BODY_301: u64 = 162;
pub(crate) const BODY_400: u64 = 150;
pub(crate) const BODY_403: u64 = 146;
pub(crate) const BODY_404: u64 = 146;
/// What nginx appends to its built-in 4xx/5xx pages for user agents it takes for MSIE
/// or Chrome (`msie_padding on`, the default): a comment that defeats those browsers'
/// "friendly" error pages (nginx 1.22, measured).
pub(crate) const ERROR_PADDING: u64 = 402;
/// Bodies of the POST /login answers (the nginx config returns exactly these).
pub(crate) const LOGIN_OK_BODY: &str = "welcome back\n";
pub(crate) const LOGIN_FAIL_BODY: &str = "invalid username or password\n";

/// Modification time of every file of the site (2026-11-01 00:00:00 UTC): the
/// `Last-Modified` nginx sends, so a revalidating browser's `If-Modified-Since` matches
/// and gets a 304 in both modes.
pub(crate) const SITE_MTIME_UNIX: i64 = 1_793_491_200;

/// What a page is, which decides its assets and links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageKind {
    Home,
    Category,
    Product,
    Blog,
    Info,
    Login,
    Search,
    Cart,
}

/// What an asset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssetKind {
    Css,
    Js,
    Font,
    Image,
}

/// One HTML page.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Request path, e.g. `/product/blue-kettle`.
    pub path: String,
    pub kind: PageKind,
    /// Indices into [`Site::assets`], in the order a browser requests them.
    pub assets: Vec<usize>,
    /// Indices into [`Site::pages`] this page links to.
    pub links: Vec<usize>,
}

/// One static asset.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub path: String,
    pub kind: AssetKind,
    /// Loaded by the stylesheet (fonts), so its referer is the stylesheet's URL.
    pub via_css: bool,
}

/// The generated site: pages, assets and every file with its size.
#[derive(Debug, Clone)]
pub struct Site {
    pub(crate) pages: Vec<Page>,
    pub(crate) assets: Vec<Asset>,
    /// Index of the stylesheet fonts are loaded from.
    pub(crate) stylesheet: usize,
    /// The product page of the flash sale.
    pub(crate) sale_page: usize,
    /// Request path of a file → its content.
    files: BTreeMap<String, Vec<u8>>,
    /// Directories (request paths without the trailing slash), for nginx's 301/403.
    dirs: BTreeSet<String>,
}

const CATEGORIES: &[&str] = &[
    "kitchen", "garden", "lighting", "outdoor", "bathroom", "office", "kids", "gifts",
];
const ADJECTIVES: &[&str] = &[
    "blue", "steel", "oak", "compact", "classic", "smart", "linen", "ceramic", "bamboo", "copper",
    "folding", "retro",
];
const NOUNS: &[&str] = &[
    "kettle", "lamp", "chair", "planter", "towel", "desk", "mug", "clock", "rug", "shelf",
    "blender", "lantern", "stool", "vase", "toaster",
];
const BLOG_TOPICS: &[&str] = &[
    "spring-garden-checklist",
    "how-to-choose-a-desk-lamp",
    "small-kitchen-ideas",
    "caring-for-oak-furniture",
    "gift-guide-2026",
    "outdoor-lighting-basics",
    "bathroom-refresh-on-a-budget",
    "home-office-ergonomics",
    "five-ways-with-ceramics",
    "kids-room-storage",
    "brewing-better-tea",
    "rugs-and-acoustics",
];

impl Site {
    /// The shop for `seed`: 8 categories, 120 products, 12 blog posts and the fixed pages.
    pub fn generate(seed: u64) -> Self {
        let mut rng = dist::rng(seed, 0x517e);
        let mut site = Site {
            pages: Vec::new(),
            assets: Vec::new(),
            stylesheet: 0,
            sale_page: 0,
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
        };
        // Shared assets every page loads.
        site.stylesheet = site.add_asset(&mut rng, "/static/css/site.css", AssetKind::Css, false);
        let mut shared = vec![site.stylesheet];
        shared.push(site.add_asset(&mut rng, "/static/js/vendor.js", AssetKind::Js, false));
        shared.push(site.add_asset(&mut rng, "/static/js/app.js", AssetKind::Js, false));
        shared.push(site.add_asset(&mut rng, "/static/img/logo.svg", AssetKind::Image, false));
        shared.push(site.add_asset(
            &mut rng,
            "/static/fonts/inter-regular.woff2",
            AssetKind::Font,
            true,
        ));
        shared.push(site.add_asset(
            &mut rng,
            "/static/fonts/inter-bold.woff2",
            AssetKind::Font,
            true,
        ));

        let home = site.add_page(&mut rng, "/", PageKind::Home, &shared);
        let banner = site.add_asset(
            &mut rng,
            "/static/img/banner-winter.jpg",
            AssetKind::Image,
            false,
        );
        site.pages[home].assets.push(banner);

        let mut categories = Vec::new();
        for name in CATEGORIES {
            categories.push(site.add_page(
                &mut rng,
                &format!("/category/{name}"),
                PageKind::Category,
                &shared,
            ));
        }
        let mut products = Vec::new();
        let mut slugs = BTreeSet::new();
        while products.len() < 120 {
            let slug = format!(
                "{}-{}-{}",
                dist::pick(&mut rng, ADJECTIVES).unwrap_or(&"plain"),
                dist::pick(&mut rng, NOUNS).unwrap_or(&"thing"),
                dist::between(&mut rng, 10, 99)
            );
            if !slugs.insert(slug.clone()) {
                continue;
            }
            let page = site.add_page(
                &mut rng,
                &format!("/product/{slug}"),
                PageKind::Product,
                &shared,
            );
            let photo = site.add_asset(
                &mut rng,
                &format!("/static/img/products/{slug}.jpg"),
                AssetKind::Image,
                false,
            );
            let thumb = site.add_asset(
                &mut rng,
                &format!("/static/img/thumbs/{slug}.webp"),
                AssetKind::Image,
                false,
            );
            site.pages[page].assets.push(photo);
            products.push((page, thumb));
        }
        let mut blogs = Vec::new();
        for topic in BLOG_TOPICS {
            let page = site.add_page(&mut rng, &format!("/blog/{topic}"), PageKind::Blog, &shared);
            let hero = site.add_asset(
                &mut rng,
                &format!("/static/img/blog/{topic}.jpg"),
                AssetKind::Image,
                false,
            );
            site.pages[page].assets.push(hero);
            blogs.push(page);
        }
        let mut info = Vec::new();
        for path in ["/about", "/contact", "/shipping", "/returns"] {
            info.push(site.add_page(&mut rng, path, PageKind::Info, &shared));
        }
        let login = site.add_page(&mut rng, "/login", PageKind::Login, &shared);
        let search = site.add_page(&mut rng, "/search", PageKind::Search, &shared);
        let cart = site.add_page(&mut rng, "/cart", PageKind::Cart, &shared);

        // Links: every page links home, to the categories, login and cart (the header);
        // categories list their products (with thumbnails), products link to related
        // products and their category, the home page features products and posts.
        let header: Vec<usize> = [home, login, cart]
            .into_iter()
            .chain(categories.iter().copied())
            .collect();
        let per_category = products.len() / categories.len().max(1);
        for (c, &category) in categories.iter().enumerate() {
            let members = products.iter().skip(c * per_category).take(per_category);
            for &(product, thumb) in members {
                site.pages[category].links.push(product);
                site.pages[category].assets.push(thumb);
                site.pages[product].links.push(category);
            }
        }
        for i in 0..products.len() {
            for step in [1, 7, 13] {
                if let Some(&(related, thumb)) = products.get((i + step) % products.len()) {
                    site.pages[products[i].0].links.push(related);
                    site.pages[products[i].0].assets.push(thumb);
                }
            }
        }
        for &(product, thumb) in products.iter().take(6) {
            site.pages[home].links.push(product);
            site.pages[home].assets.push(thumb);
        }
        site.pages[home].links.extend(blogs.iter().take(4));
        for &blog in &blogs {
            site.pages[blog]
                .links
                .extend(blogs.iter().filter(|&&b| b != blog).take(3));
            site.pages[blog]
                .links
                .push(products[dist::index(&mut rng, products.len())].0);
        }
        for &page in info.iter().chain([&login, &search, &cart]) {
            site.pages[page]
                .links
                .extend(info.iter().filter(|&&p| p != page));
        }
        for page in &mut site.pages {
            page.links.extend(
                header
                    .iter()
                    .filter(|&&p| p != home || page.kind != PageKind::Home),
            );
        }
        site.sale_page = products[0].0;

        // The non-page files.
        let robots = "User-agent: *\nDisallow: /cart\nDisallow: /login\nDisallow: /search\n\nSitemap: https://www.vigil-shop.example/sitemap.xml\n";
        site.files
            .insert("/robots.txt".into(), robots.as_bytes().to_vec());
        let mut sitemap = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
        for page in site
            .pages
            .iter()
            .filter(|p| !matches!(p.kind, PageKind::Login | PageKind::Search | PageKind::Cart))
        {
            sitemap.push_str(&format!(
                "  <url><loc>https://www.vigil-shop.example{}</loc></url>\n",
                page.path
            ));
        }
        sitemap.push_str("</urlset>\n");
        site.files
            .insert("/sitemap.xml".into(), sitemap.into_bytes());
        site.files
            .insert("/favicon.ico".into(), filler(&mut rng, b"\0\0\x01\0", 4286));
        for path in site.files.keys() {
            let mut dir = path.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if parent.is_empty() {
                    break;
                }
                site.dirs.insert(parent.to_owned());
                dir = parent;
            }
        }
        site
    }

    fn add_asset(&mut self, rng: &mut Rng, path: &str, kind: AssetKind, via_css: bool) -> usize {
        let (median, lo, hi, magic): (f64, f64, f64, &[u8]) = match kind {
            AssetKind::Css => (60_000.0, 8_000.0, 200_000.0, b"/* site styles */\n"),
            AssetKind::Js => (150_000.0, 20_000.0, 600_000.0, b"\"use strict\";\n"),
            AssetKind::Font => (40_000.0, 15_000.0, 90_000.0, b"wOF2"),
            AssetKind::Image => (30_000.0, 2_000.0, 400_000.0, b"\xff\xd8\xff\xe0"),
        };
        let size = dist::lognormal(rng, median, 0.7, lo, hi) as usize;
        self.files.insert(path.to_owned(), filler(rng, magic, size));
        self.assets.push(Asset {
            path: path.to_owned(),
            kind,
            via_css,
        });
        self.assets.len() - 1
    }

    fn add_page(&mut self, rng: &mut Rng, path: &str, kind: PageKind, shared: &[usize]) -> usize {
        let size = dist::lognormal(rng, 24_000.0, 0.5, 6_000.0, 120_000.0) as usize;
        let file = if path == "/" { "/index.html" } else { path };
        self.files.insert(
            file.to_owned(),
            filler(rng, b"<!doctype html>\n<html lang=\"en\">\n", size),
        );
        self.pages.push(Page {
            path: path.to_owned(),
            kind,
            assets: shared.to_vec(),
            links: Vec::new(),
        });
        self.pages.len() - 1
    }

    /// Number of files the tree has.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Writes the site as a static tree under `root` (created), every file with the fixed
    /// modification time so `Last-Modified` is reproducible.
    pub fn write_tree(&self, root: &Path) -> Result<(), Error> {
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(SITE_MTIME_UNIX.unsigned_abs());
        for (path, content) in &self.files {
            let file = root.join(path.trim_start_matches('/'));
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent)
                    .map_err(|source| Error::io("creating", parent, source))?;
            }
            fs::write(&file, content).map_err(|source| Error::io("writing", &file, source))?;
            let handle = fs::File::options()
                .write(true)
                .open(&file)
                .map_err(|source| Error::io("opening", &file, source))?;
            handle
                .set_modified(mtime)
                .map_err(|source| Error::io("setting the time of", &file, source))?;
        }
        Ok(())
    }

    /// The status and body byte count nginx logs for `method target` on this site served
    /// by [`crate::nginx`]'s configuration: static files (200, or 304 when `revalidate`
    /// sends the matching `If-Modified-Since`), 301 for a directory without its slash, 403
    /// for a directory listing, 404 otherwise, 400 for a path nginx rejects, and the
    /// POST /login answers. HEAD and 304 carry no body.
    pub(crate) fn respond(
        &self,
        method: &str,
        target: &str,
        login_ok: bool,
        revalidate: bool,
    ) -> (u16, u64) {
        let raw_path = target.split_once('?').map_or(target, |(path, _)| path);
        let Some(path) = normalize(raw_path) else {
            return (400, body(method, BODY_400));
        };
        if path == "/login" && method == "POST" {
            let text = if login_ok {
                LOGIN_OK_BODY
            } else {
                LOGIN_FAIL_BODY
            };
            return if login_ok {
                (200, text.len() as u64)
            } else {
                (401, text.len() as u64)
            };
        }
        let file = if path == "/" {
            "/index.html"
        } else {
            path.as_str()
        };
        if let Some(content) = self.files.get(file) {
            if revalidate {
                return (304, 0);
            }
            return (200, body(method, content.len() as u64));
        }
        if let Some(dir) = path.strip_suffix('/') {
            if self.dirs.contains(dir) {
                return (403, body(method, BODY_403));
            }
        } else if self.dirs.contains(path.as_str()) {
            return (301, body(method, BODY_301));
        }
        (404, body(method, BODY_404))
    }

    /// [`Site::respond`] for a client sending `user_agent`: nginx pads its built-in error
    /// pages (400, 403, 404; not the 401 of POST /login, which the configuration returns
    /// with its own text) for MSIE and Chrome.
    pub(crate) fn respond_for(
        &self,
        method: &str,
        target: &str,
        login_ok: bool,
        revalidate: bool,
        user_agent: Option<&str>,
    ) -> (u16, u64) {
        let (status, bytes) = self.respond(method, target, login_ok, revalidate);
        let builtin_page = matches!(status, 400 | 403 | 404);
        if builtin_page && method != "HEAD" && padded(user_agent) {
            (status, bytes + ERROR_PADDING)
        } else {
            (status, bytes)
        }
    }

    /// True when nginx accepts `target`'s path (it would answer 400 before reading the
    /// headers, logging neither the forwarded address nor the simulated time; the
    /// scenarios never send such a path).
    pub(crate) fn accepts(target: &str) -> bool {
        let raw_path = target.split_once('?').map_or(target, |(path, _)| path);
        target.starts_with('/')
            && target
                .bytes()
                .all(|b| (0x21..0x7f).contains(&b) && b != b'#')
            && normalize(raw_path).is_some()
    }
}

/// nginx's browser sniffing (`ngx_http_process_user_agent`): "MSIE " with at least three
/// more bytes after it, or "Chrome/" in a user agent without "Gecko/" (Firefox).
fn padded(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent else { return false };
    let msie = ua.find("MSIE ").is_some_and(|at| at + 7 < ua.len());
    msie || (!ua.contains("Gecko/") && ua.contains("Chrome/"))
}

fn body(method: &str, bytes: u64) -> u64 {
    if method == "HEAD" {
        0
    } else {
        bytes
    }
}

/// nginx's URI normalisation as far as the scenarios need it: percent-decoding, merged
/// slashes, `.` and `..` segments; `None` where nginx answers 400 (a bad escape, a NUL,
/// a `..` above the root).
fn normalize(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            let value = u8::from_str_radix(text, 16).ok()?;
            if value == 0 {
                return None;
            }
            decoded.push(value);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    let decoded = String::from_utf8_lossy(&decoded);
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop()?;
            }
            _ => segments.push(segment),
        }
    }
    // Merge slashes: empty segments vanish except a trailing one.
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    let mut out = String::with_capacity(decoded.len());
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// `size` bytes starting with `magic`, then printable filler (deterministic from `rng`).
fn filler(rng: &mut Rng, magic: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size.max(magic.len()));
    out.extend_from_slice(magic);
    let word = dist::hex(rng, 31);
    while out.len() < size {
        out.extend_from_slice(word.as_bytes());
        out.push(b'\n');
    }
    out.truncate(size.max(magic.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_reference_existing_files_and_links() {
        let site = Site::generate(1);
        for page in &site.pages {
            assert_eq!(
                site.respond("GET", &page.path, false, false).0,
                200,
                "{}",
                page.path
            );
            assert!(!page.assets.is_empty());
            assert!(!page.links.is_empty(), "{}", page.path);
            for &asset in &page.assets {
                assert_eq!(
                    site.respond("GET", &site.assets[asset].path, false, false)
                        .0,
                    200
                );
            }
        }
        assert_eq!(site.pages[site.sale_page].kind, PageKind::Product);
        assert!(site.assets[site.stylesheet].path.ends_with(".css"));
    }

    #[test]
    fn respond_follows_nginx() {
        let site = Site::generate(1);
        let (status, bytes) = site.respond("GET", "/robots.txt", false, false);
        assert_eq!(status, 200);
        assert!(bytes > 20);
        assert_eq!(site.respond("HEAD", "/robots.txt", false, false), (200, 0));
        assert_eq!(site.respond("GET", "/robots.txt", false, true), (304, 0));
        assert_eq!(site.respond("GET", "/.env", false, false), (404, BODY_404));
        assert_eq!(
            site.respond("GET", "/static", false, false),
            (301, BODY_301)
        );
        assert_eq!(
            site.respond("GET", "/static/", false, false),
            (403, BODY_403)
        );
        assert_eq!(
            site.respond("GET", "//static/./css/../css/site.css", false, false)
                .0,
            200
        );
        assert_eq!(site.respond("GET", "/%72obots.txt", false, false).0, 200);
        assert_eq!(
            site.respond("GET", "/../etc/passwd", false, false),
            (400, BODY_400)
        );
        assert_eq!(site.respond("GET", "/a%zz", false, false), (400, BODY_400));
        assert_eq!(
            site.respond("GET", "/index.php?f=../../../etc/passwd", false, false),
            (404, BODY_404)
        );
        assert_eq!(
            site.respond("POST", "/login", true, false),
            (200, LOGIN_OK_BODY.len() as u64)
        );
        assert_eq!(
            site.respond("POST", "/login", false, false),
            (401, LOGIN_FAIL_BODY.len() as u64)
        );
        assert_eq!(site.respond("GET", "/login", false, false).0, 200);
        assert!(Site::accepts("/index.php?f=../../etc/passwd"));
        assert!(!Site::accepts("/../etc/passwd"));
        assert!(!Site::accepts("/a b"));
    }

    #[test]
    fn error_pages_are_padded_for_msie_and_chrome() {
        let site = Site::generate(1);
        let chrome = Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        let firefox =
            Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 Chrome/1");
        let padded = (404, BODY_404 + ERROR_PADDING);
        assert_eq!(
            site.respond_for("GET", "/nope", false, false, chrome),
            padded
        );
        assert_eq!(
            site.respond_for("GET", "/nope", false, false, Some("x MSIE 8.0; y")),
            padded
        );
        assert_eq!(
            site.respond_for("GET", "/nope", false, false, Some("MSIE 8")),
            (404, BODY_404)
        );
        assert_eq!(
            site.respond_for("GET", "/nope", false, false, firefox),
            (404, BODY_404)
        );
        assert_eq!(
            site.respond_for("GET", "/nope", false, false, None),
            (404, BODY_404)
        );
        assert_eq!(
            site.respond_for("HEAD", "/nope", false, false, chrome),
            (404, 0)
        );
        assert_eq!(
            site.respond_for("GET", "/static/", false, false, chrome),
            (403, BODY_403 + ERROR_PADDING)
        );
        assert_eq!(
            site.respond_for("GET", "/static", false, false, chrome),
            (301, BODY_301)
        );
        let login = site.respond("POST", "/login", false, false);
        assert_eq!(
            site.respond_for("POST", "/login", false, false, chrome),
            login
        );
    }

    #[test]
    fn same_seed_same_site() {
        let (a, b) = (Site::generate(5), Site::generate(5));
        assert_eq!(a.files, b.files);
        assert_ne!(a.files, Site::generate(6).files);
    }
}
