//! The pages as HTML, rendered on the server.
//!
//! Every value that comes from an object or a machine (names come from `hardware.csv`,
//! messages from agents and BMCs) goes through [`esc`] before it reaches the page; the only
//! markup is the literal text of this module. The escaping is five characters written out
//! here rather than a template engine: the pages are a few tables, and a reviewer can see
//! every interpolation in one file.

use std::fmt::Write as _;

use ironbell_model::columns::age;
use ironbell_model::corev1::Event;

use crate::views::{MachineSummary, Views};

/// `s` with `& < > " '` as character references (and `\r`, which SSE cannot carry), safe
/// in element text and in quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment of a link: object names are DNS-1123, but a name read from another
/// client is escaped for the URL too (then for HTML by the caller).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The pages, for the navigation bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nav {
    Machines,
    Workflows,
    Jobs,
    Clusters,
}

/// A whole page: the navigation, the token field, `body`, and the stream it follows.
pub(crate) fn page(title: &str, active: Nav, stream: &str, body: &str) -> String {
    let mut nav = String::new();
    for (which, href, label) in [
        (Nav::Machines, "/", "Machines"),
        (Nav::Workflows, "/workflows", "Workflows"),
        (Nav::Jobs, "/jobs", "BMC jobs"),
        (Nav::Clusters, "/clusters", "Clusters"),
    ] {
        let class = if which == active { " class=\"on\"" } else { "" };
        let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · ironbell</title>\
         <link rel=\"stylesheet\" href=\"/assets/dashboard.css\">\
         <script src=\"/assets/dashboard.js\" defer></script></head>\
         <body data-stream=\"{stream}\"><header><strong>ironbell</strong><nav>{nav}</nav>\
         <form id=\"token\"><input type=\"password\" name=\"token\" \
         placeholder=\"token for changes\" autocomplete=\"off\" aria-label=\"token\">\
         <button>Use</button></form>\
         <span id=\"live\" title=\"updates pushed by the plane\">connecting</span></header>\
         <div id=\"flash\" role=\"status\"></div><main>{body}</main></body></html>\n",
        title = esc(title),
        stream = esc(stream),
    )
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "—".to_string()
    } else {
        esc(s)
    }
}

/// `reason: message` of an Event, with its age.
fn event_cell(e: Option<&Event>) -> String {
    match e {
        None => "—".into(),
        Some(e) => {
            let when = ironbell_store::events::last_seen(e)
                .map(age)
                .unwrap_or_default();
            format!(
                "<span class=\"ev {kind}\">{reason}</span> {message} <small>{when}</small>",
                kind = esc(e.type_.as_deref().unwrap_or("Normal")),
                reason = esc(e.reason.as_deref().unwrap_or_default()),
                message = esc(e.message.as_deref().unwrap_or_default()),
                when = esc(&when),
            )
        }
    }
}

/// The phase of a machine: its latest Workflow's state.
fn phase<'v>(m: &MachineSummary<'v>) -> &'v str {
    m.workflow.map_or("NO WORKFLOW", |(_, w)| w.state.as_str())
}

fn action(m: &MachineSummary<'_>) -> String {
    match m.workflow {
        Some((_, w)) if !w.action.is_empty() => {
            format!("{} <small>{}</small>", esc(&w.action), esc(&w.action_state))
        }
        _ => "—".into(),
    }
}

fn power(m: &MachineSummary<'_>) -> String {
    match m.bmc {
        None => "—".into(),
        Some(b) => {
            let problem = b
                .problem
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!(" title=\"{}\"", esc(p)))
                .unwrap_or_default();
            format!(
                "<span class=\"power {p}\"{problem}>{p}</span>",
                p = esc(&b.power)
            )
        }
    }
}

/// The write buttons of a machine (refused without the token).
fn machine_actions(m: &MachineSummary<'_>) -> String {
    let base = format!("/api/machines/{}/{}", seg(m.namespace), seg(m.name));
    let pxe = if m.hardware.allow_pxe == Some(true) {
        ("off", "Disallow PXE")
    } else {
        ("on", "Allow PXE")
    };
    let mut out = String::new();
    if m.hardware.bmc.is_some() {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}/power-cycle\" data-write>\
             <button class=\"cycle\">Power cycle</button></form>",
            esc(&base)
        );
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}/allow-pxe/{}\" data-write>\
         <button class=\"pxe\">{}</button></form>",
        esc(&base),
        pxe.0,
        pxe.1
    );
    out
}

/// The rows of the machine list (`<tbody id="machines">`).
pub(crate) fn machine_rows(views: &Views) -> String {
    let machines = views.machines();
    if machines.is_empty() {
        return "<tr><td colspan=\"9\">No Hardware yet: <code>ironbell hardware import \
                hardware.csv</code></td></tr>"
            .into();
    }
    let mut out = String::new();
    for m in &machines {
        let href = format!("/machines/{}/{}", seg(m.namespace), seg(m.name));
        let pxe = match m.hardware.allow_pxe {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        let _ = write!(
            out,
            "<tr data-machine=\"{ns}/{name}\"><td>{ns}</td><td><a href=\"{href}\">{name}</a></td>\
             <td><code>{mac}</code></td><td>{ip}</td><td class=\"power\">{power}</td>\
             <td class=\"phase\" data-phase=\"{phase}\"><span class=\"phase {phase}\">{phase}</span></td>\
             <td class=\"action\">{action}</td><td class=\"pxe\">{pxe}</td>\
             <td class=\"last-event\">{event}</td><td class=\"do\">{actions}</td></tr>",
            ns = esc(m.namespace),
            name = esc(m.name),
            href = esc(&href),
            mac = or_dash(&m.hardware.mac),
            ip = or_dash(&m.hardware.ip),
            power = power(m),
            phase = esc(phase(m)),
            action = action(m),
            event = event_cell(m.last_event),
            actions = machine_actions(m),
        );
    }
    out
}

/// The machine list.
pub(crate) fn machines_page(views: &Views) -> String {
    let body = format!(
        "<h1>Machines</h1><table><thead><tr><th>Namespace</th><th>Machine</th><th>MAC</th>\
         <th>IP</th><th>Power</th><th>Phase</th><th>Current action</th><th>PXE</th>\
         <th>Last event</th><th></th></tr></thead><tbody id=\"machines\">{}</tbody></table>",
        machine_rows(views)
    );
    page("Machines", Nav::Machines, "/stream/machines", &body)
}

/// A machine's summary (`<section id="summary">`).
pub(crate) fn machine_summary(m: &MachineSummary<'_>) -> String {
    let bmc = match (&m.hardware.bmc, m.bmc) {
        (None, _) => "—".into(),
        (Some(name), None) => format!("{} (not found)", esc(name)),
        (Some(name), Some(b)) => {
            let problem = b
                .problem
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| {
                    format!(
                        " <span class=\"problem\">not contactable: {}</span>",
                        esc(p)
                    )
                })
                .unwrap_or_default();
            format!("{} at {}{problem}", esc(name), or_dash(&b.host))
        }
    };
    let workflow = m.workflow.map_or("—".into(), |(name, _)| esc(name));
    let reason = m
        .workflow
        .and_then(|(_, w)| w.reason.as_deref())
        .map(|r| {
            format!(
                "<dt>Why it stopped</dt><dd class=\"reason\">{}</dd>",
                esc(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<dl><dt>Phase</dt><dd class=\"phase\" data-phase=\"{phase}\">\
         <span class=\"phase {phase}\">{phase}</span></dd>\
         <dt>Current action</dt><dd class=\"action\">{action}</dd>{reason}\
         <dt>Workflow</dt><dd>{workflow}</dd><dt>Power</dt><dd>{power}</dd>\
         <dt>BMC</dt><dd>{bmc}</dd><dt>MAC</dt><dd><code>{mac}</code></dd>\
         <dt>IP</dt><dd>{ip}</dd><dt>Allow PXE</dt><dd class=\"pxe\">{pxe}</dd></dl>\
         <div class=\"do\">{actions}</div>",
        phase = esc(phase(m)),
        action = action(m),
        power = power(m),
        mac = or_dash(&m.hardware.mac),
        ip = or_dash(&m.hardware.ip),
        pxe = m
            .hardware
            .allow_pxe
            .map_or("—".to_string(), |b| b.to_string()),
        actions = machine_actions(m),
    )
}

/// A machine's timeline (`<tbody id="timeline">`): the Events of its Hardware, BMC
/// Machine and Workflows, oldest first.
pub(crate) fn timeline_rows(views: &Views, m: &MachineSummary<'_>) -> String {
    let about = m.about();
    let events = ironbell_store::events::about(
        views
            .events
            .iter()
            .filter(|((ns, _), _)| ns == m.namespace)
            .map(|(_, e)| e.as_ref()),
        &about,
    );
    if events.is_empty() {
        return "<tr><td colspan=\"5\">No events yet.</td></tr>".into();
    }
    let mut out = String::new();
    for e in &events {
        let when = ironbell_store::events::last_seen(e)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let count = match e.count.unwrap_or(1) {
            n if n > 1 => format!(" <small>×{n}</small>"),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<tr class=\"ev {kind}\" data-reason=\"{reason}\"><td><time>{when}</time></td>\
             <td>{kind}</td><td>{reason}{count}</td><td>{object}</td><td>{message}</td></tr>",
            kind = esc(e.type_.as_deref().unwrap_or("Normal")),
            reason = esc(e.reason.as_deref().unwrap_or_default()),
            when = esc(&when),
            object = esc(&format!(
                "{}/{}",
                e.involved_object.kind(),
                e.involved_object.name()
            )),
            message = esc(e.message.as_deref().unwrap_or_default()),
        );
    }
    out
}

/// A machine's page, with the last lines of its log.
pub(crate) fn machine_page(views: &Views, m: &MachineSummary<'_>, log: &[String]) -> String {
    let mut lines = String::new();
    for line in log {
        let _ = writeln!(lines, "{}", esc(line));
    }
    let stream = format!("/stream/machines/{}/{}", seg(m.namespace), seg(m.name));
    let body = format!(
        "<h1>{name} <small>{ns}</small></h1><section id=\"summary\">{summary}</section>\
         <h2>Timeline</h2><table><thead><tr><th>Time</th><th>Type</th><th>Reason</th>\
         <th>Object</th><th>Message</th></tr></thead><tbody id=\"timeline\">{timeline}</tbody>\
         </table><h2>Machine log</h2><pre id=\"log\">{lines}</pre>",
        name = esc(m.name),
        ns = esc(m.namespace),
        summary = machine_summary(m),
        timeline = timeline_rows(views, m),
    );
    page(m.name, Nav::Machines, &stream, &body)
}

/// The rows of the Workflow list (`<tbody id="workflows">`).
pub(crate) fn workflow_rows(views: &Views) -> String {
    if views.workflows.is_empty() {
        return "<tr><td colspan=\"7\">No Workflows.</td></tr>".into();
    }
    let mut out = String::new();
    for ((ns, name), w) in &views.workflows {
        let hw = format!("/machines/{}/{}", seg(ns), seg(&w.hardware));
        let _ = write!(
            out,
            "<tr data-workflow=\"{ns}/{name}\"><td>{ns}</td><td>{name}</td><td>{template}</td>\
             <td class=\"state\"><span class=\"phase {state}\">{state}</span></td>\
             <td>{action}</td><td><a href=\"{hw}\">{hardware}</a></td><td>{reason}</td>\
             <td>{age}</td></tr>",
            ns = esc(ns),
            name = esc(name),
            template = or_dash(&w.template),
            state = esc(&w.state),
            action = or_dash(&w.action),
            hw = esc(&hw),
            hardware = or_dash(&w.hardware),
            reason = w.reason.as_deref().map_or(String::new(), esc),
            age = w.created.map(age).unwrap_or_default(),
        );
    }
    out
}

/// The Workflow list.
pub(crate) fn workflows_page(views: &Views) -> String {
    let body = format!(
        "<h1>Workflows</h1><table><thead><tr><th>Namespace</th><th>Name</th>\
         <th>Template</th><th>State</th><th>Current action</th><th>Hardware</th>\
         <th>Why it stopped</th><th>Age</th></tr></thead><tbody id=\"workflows\">{}</tbody>\
         </table>",
        workflow_rows(views)
    );
    page("Workflows", Nav::Workflows, "/stream/workflows", &body)
}

/// The rows of the BMC Job list (`<tbody id="jobs">`).
pub(crate) fn job_rows(views: &Views) -> String {
    if views.jobs.is_empty() {
        return "<tr><td colspan=\"6\">No BMC jobs.</td></tr>".into();
    }
    let mut out = String::new();
    for ((ns, name), j) in &views.jobs {
        let _ = write!(
            out,
            "<tr data-job=\"{ns}/{name}\"><td>{ns}</td><td>{name}</td><td>{machine}</td>\
             <td>{tasks}</td><td class=\"state\"><span class=\"phase {state}\">{state}</span>\
             </td><td>{message}</td><td>{age}</td></tr>",
            ns = esc(ns),
            name = esc(name),
            machine = or_dash(&j.machine),
            tasks = or_dash(&j.tasks),
            state = esc(&j.state),
            message = esc(&j.message),
            age = j.created.map(age).unwrap_or_default(),
        );
    }
    out
}

/// The BMC Job list.
pub(crate) fn jobs_page(views: &Views) -> String {
    let body = format!(
        "<h1>BMC jobs</h1><table><thead><tr><th>Namespace</th><th>Name</th><th>Machine</th>\
         <th>Tasks</th><th>State</th><th>Message</th><th>Age</th></tr></thead>\
         <tbody id=\"jobs\">{}</tbody></table>",
        job_rows(views)
    );
    page("BMC jobs", Nav::Jobs, "/stream/jobs", &body)
}

/// The rows of the cluster list (`<tbody id="clusters">`).
pub(crate) fn cluster_rows(views: &Views) -> String {
    let all = views
        .eksa_clusters
        .iter()
        .map(|(k, c)| ("EKS Anywhere", k, c))
        .chain(
            views
                .capi_clusters
                .iter()
                .map(|(k, c)| ("Cluster API", k, c)),
        );
    let mut out = String::new();
    for (kind, (ns, name), c) in all {
        let _ = write!(
            out,
            "<tr><td>{kind}</td><td>{ns}</td><td>{name}</td>\
             <td class=\"state\"><span class=\"phase {phase}\">{phase}</span></td>\
             <td>{message}</td></tr>",
            ns = esc(ns),
            name = esc(name),
            phase = esc(&c.phase),
            message = esc(&c.message),
        );
    }
    if out.is_empty() {
        out.push_str("<tr><td colspan=\"5\">No clusters.</td></tr>");
    }
    out
}

/// The cluster list (EKS Anywhere and Cluster API Clusters).
pub(crate) fn clusters_page(views: &Views) -> String {
    let body = format!(
        "<h1>Clusters</h1><table><thead><tr><th>Kind</th><th>Namespace</th><th>Name</th>\
         <th>Phase</th><th>Message</th></tr></thead><tbody id=\"clusters\">{}</tbody></table>",
        cluster_rows(views)
    );
    page("Clusters", Nav::Clusters, "/stream/clusters", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_and_messages_is_text() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        let page = page("<b>", Nav::Jobs, "/s\"x", "");
        assert!(
            page.contains("<title>&lt;b&gt; · ironbell</title>"),
            "{page}"
        );
        assert!(page.contains("data-stream=\"/s&quot;x\""), "{page}");
    }

    #[test]
    fn a_machine_says_why_its_bmc_cannot_be_reached() {
        let hardware = crate::views::HardwareRow {
            mac: "3c:ec:ef:30:00:09".into(),
            ip: "10.0.0.9".into(),
            allow_pxe: Some(false),
            bmc: Some("bmc-n9".into()),
        };
        let bmc = crate::views::BmcRow {
            host: "10.1.0.9".into(),
            power: "unknown".into(),
            problem: Some("connect: <refused>".into()),
        };
        let m = MachineSummary {
            namespace: "default",
            name: "n9",
            hardware: &hardware,
            bmc: Some(&bmc),
            workflow: None,
            workflows: Vec::new(),
            last_event: None,
        };
        let html = machine_summary(&m);
        assert!(
            html.contains("bmc-n9 at 10.1.0.9 <span class=\"problem\">not contactable: connect: &lt;refused&gt;</span>"),
            "{html}"
        );
        assert!(html.contains("data-phase=\"NO WORKFLOW\""), "{html}");
        assert!(
            html.contains("/api/machines/default/n9/allow-pxe/on"),
            "{html}"
        );
    }
}
