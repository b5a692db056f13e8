//! The REST handler: authentication and authorisation, the routes of Kubernetes' API, and
//! each verb over the [`Store`](ironbell_store::Store).
//!
//! One handler reads the path itself rather than an axum route per shape: the API's paths
//! (`/apis/G/V/namespaces/NS/PLURAL/NAME/status`, with `namespaces` itself a resource of
//! `/api/v1`) are clearer as one match over the segments than as a dozen overlapping routes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, Response, StatusCode, header};
use futures::StreamExt as _;
use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, KindInfo, KindRegistry};
use ironbell_store::{ListParams, SharedStore, StoreError, WatchEvent};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::{Instrument as _, debug, info_span};

use crate::discovery::{self, IncludeObject};
use crate::managed::{self, Managers};
use crate::openapi;
use crate::paging;
use crate::security::{Role, Security};
use crate::status::{ApiError, json_response};

/// Bounds and timings of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest request body accepted (Kubernetes' is 3 MiB).
    pub max_body_bytes: usize,
    /// Time a request other than a watch may take.
    pub request_timeout: Duration,
    /// Time between bookmarks on a watch that asked for them.
    pub bookmark_interval: Duration,
    /// Longest a watch stays open (a client's `timeoutSeconds` may shorten it).
    pub max_watch: Duration,
}

impl Default for ApiConfig {
    /// 3 MiB bodies, 60 s requests, a bookmark a minute, watches of at most 30 minutes.
    fn default() -> Self {
        Self {
            max_body_bytes: 3 << 20,
            request_timeout: Duration::from_secs(60),
            bookmark_interval: Duration::from_secs(60),
            max_watch: Duration::from_secs(30 * 60),
        }
    }
}

/// What the handler needs: the store, its kinds, the credentials and the bounds.
pub struct ApiState {
    /// The store served.
    pub store: SharedStore,
    /// The kinds served.
    pub kinds: KindRegistry,
    /// TLS and tokens.
    pub security: Arc<Security>,
    /// Bounds.
    pub config: ApiConfig,
    /// The rests of lists read in pages.
    pages: paging::PageCache,
}

impl ApiState {
    /// The state of an API serving `store`'s `kinds`.
    pub fn new(
        store: SharedStore,
        kinds: KindRegistry,
        security: Arc<Security>,
        config: ApiConfig,
    ) -> Self {
        Self {
            store,
            kinds,
            security,
            config,
            pages: paging::PageCache::default(),
        }
    }
}

/// The role a verified client certificate gave the connection, set by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct CertRole(pub Option<Role>);

const NAMESPACE_KIND: KindInfo = KindInfo {
    api_version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    aliases: &["ns", "namespace"],
    namespaced: false,
};

const CRD_KIND: KindInfo = KindInfo {
    api_version: discovery::CRD_GROUP_VERSION,
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    aliases: &["crd", "crds"],
    namespaced: false,
};

/// Answers one request (the router's only handler).
pub async fn handle(state: Arc<ApiState>, req: Request) -> Response<Body> {
    let span = info_span!("kube_api", method = %req.method(), path = %req.uri().path());
    async move {
        let resp = match serve(&state, req).await {
            Ok(resp) => resp,
            Err(e) => {
                debug!(code = e.code, reason = e.reason, "{}", e.message);
                e.response()
            }
        };
        debug!(status = resp.status().as_u16(), "answered");
        resp
    }
    .instrument(span)
    .await
}

async fn serve(state: &ApiState, req: Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return Ok(Response::new(Body::from("ok")));
    }
    let role = authenticate(state, &req)?;
    let method = req.method().clone();
    if role == Role::ReadOnly && method != Method::GET {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!("the read-only role may get, list and watch only, not {method} {path}"),
        ));
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let kinds = &state.kinds;
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    match segments.as_slice() {
        ["version"] => return ok(discovery::version()),
        ["api"] => return ok(discovery::core_versions()),
        ["apis"] => return ok(discovery::group_list(kinds)),
        ["apis", group] => {
            return discovery::group(kinds, group)
                .map_or_else(|| Err(ApiError::no_route(&path)), ok);
        }
        ["api", "v1"] => {
            return discovery::resource_list(kinds, "v1")
                .map_or_else(|| Err(ApiError::no_route(&path)), ok);
        }
        ["apis", g, v] => {
            return discovery::resource_list(kinds, &format!("{g}/{v}"))
                .map_or_else(|| Err(ApiError::no_route(&path)), ok);
        }
        ["openapi", "v2"] => return Ok(openapi_v2(req.headers())),
        ["openapi", "v3"] => return ok(openapi::root(kinds)),
        ["openapi", "v3", "api", "v1"] => {
            return openapi::group_version(kinds, "v1")
                .map_or_else(|| Err(ApiError::no_route(&path)), ok);
        }
        ["openapi", "v3", "apis", g, v] => {
            return openapi::group_version(kinds, &format!("{g}/{v}"))
                .map_or_else(|| Err(ApiError::no_route(&path)), ok);
        }
        _ => {}
    }
    let (group_version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return Err(ApiError::no_route(&path)),
    };
    let target = Target::parse(&group_version, rest).ok_or_else(|| ApiError::no_route(&path))?;
    if role == Role::ReadOnly && target.plural() == "secrets" {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "the read-only role may not read secrets",
        ));
    }
    let as_table = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    let manager = field_manager(&query, req.headers());
    let ctx = Ctx {
        state,
        query,
        as_table,
        manager,
    };
    match target {
        Target::Namespaces(name) => {
            within(
                state.config.request_timeout,
                ctx.namespaces(name.as_deref()),
            )
            .await
        }
        Target::Crds(name) => ctx.crds(name.as_deref()),
        Target::Resource {
            plural,
            namespace,
            name,
            status,
        } => {
            let kind = kinds
                .kinds()
                .find(|k| k.api_version == group_version && k.plural == plural)
                .ok_or_else(|| ApiError::no_route(&path))?;
            if namespace.is_some() && !kind.namespaced {
                return Err(ApiError::no_route(&path));
            }
            let res = Res {
                kind,
                namespace: namespace.unwrap_or_default(),
            };
            let timeout = state.config.request_timeout;
            let is_watch = ctx.flag("watch");
            let work = async {
                match (method, name) {
                    (Method::GET, None) if is_watch => ctx.watch(&res, None),
                    (Method::GET, None) => ctx.list(&res).await,
                    (Method::POST, None) => ctx.create(&res, req).await,
                    (Method::GET, Some(name)) if is_watch => ctx.watch(&res, Some(name)),
                    (Method::GET, Some(name)) => ctx.get(&res, &name).await,
                    (Method::PUT, Some(name)) => ctx.replace(&res, &name, status, req).await,
                    (Method::PATCH, Some(name)) => ctx.patch(&res, &name, status, req).await,
                    (Method::DELETE, Some(name)) if !status => ctx.delete(&res, &name, req).await,
                    (m, _) => Err(ApiError::method_not_allowed(format!(
                        "{m} is not supported on {path}"
                    ))),
                }
            };
            if is_watch {
                return work.await;
            }
            within(timeout, work).await
        }
    }
}

/// `work`, or a 504 `Timeout` Status once `limit` has passed.
async fn within(
    limit: Duration,
    work: impl std::future::Future<Output = Result<Response<Body>, ApiError>>,
) -> Result<Response<Body>, ApiError> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            504,
            "Timeout",
            format!("the request did not finish within {limit:?}"),
        ))
    })
}

/// The role of the request's credentials: a client certificate, else a bearer token.
fn authenticate(state: &ApiState, req: &Request) -> Result<Role, ApiError> {
    if let Some(CertRole(Some(role))) = req.extensions().get::<CertRole>() {
        return Ok(*role);
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token.and_then(|t| state.security.role_of_token(t)) {
        Some(role) => Ok(role),
        None => Err(ApiError::new(401, "Unauthorized", "Unauthorized")),
    }
}

/// What a resource path names.
enum Target {
    Namespaces(Option<String>),
    Crds(Option<String>),
    Resource {
        plural: String,
        namespace: Option<String>,
        name: Option<String>,
        status: bool,
    },
}

impl Target {
    fn parse(group_version: &str, rest: &[&str]) -> Option<Self> {
        let own = |s: &&str| s.to_string();
        let resource = |plural: &str, namespace: Option<&str>, name: Option<&str>, status| {
            Some(Self::Resource {
                plural: plural.to_string(),
                namespace: namespace.map(str::to_string),
                name: name.map(str::to_string),
                status,
            })
        };
        match (group_version, rest) {
            ("v1", ["namespaces"]) => Some(Self::Namespaces(None)),
            ("v1", ["namespaces", ns]) => Some(Self::Namespaces(Some(own(ns)))),
            (discovery::CRD_GROUP_VERSION, ["customresourcedefinitions"]) => Some(Self::Crds(None)),
            (discovery::CRD_GROUP_VERSION, ["customresourcedefinitions", name]) => {
                Some(Self::Crds(Some(own(name))))
            }
            (_, ["namespaces", ns, plural]) => resource(plural, Some(ns), None, false),
            (_, ["namespaces", ns, plural, name]) => resource(plural, Some(ns), Some(name), false),
            (_, ["namespaces", ns, plural, name, "status"]) => {
                resource(plural, Some(ns), Some(name), true)
            }
            (_, [plural]) => resource(plural, None, None, false),
            (_, [plural, name]) => resource(plural, None, Some(name), false),
            (_, [plural, name, "status"]) => resource(plural, None, Some(name), true),
            _ => None,
        }
    }

    fn plural(&self) -> &str {
        match self {
            Self::Namespaces(_) => "namespaces",
            Self::Crds(_) => "customresourcedefinitions",
            Self::Resource { plural, .. } => plural,
        }
    }
}

/// A kind and the namespace of the path (empty: all namespaces, or cluster-scoped).
struct Res<'k> {
    kind: &'k KindInfo,
    namespace: String,
}

impl Res<'_> {
    fn error(&self, e: &StoreError) -> ApiError {
        ApiError::from_store(e, self.kind.group(), self.kind.plural)
    }
}

struct Ctx<'s> {
    state: &'s ApiState,
    query: HashMap<String, String>,
    as_table: bool,
    /// Who writes: `fieldManager`, else the client's user agent up to its `/`.
    manager: String,
}

/// The field manager of a request (see [`managed`]).
fn field_manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    query
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .cloned()
        .or_else(|| {
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .and_then(|ua| ua.split('/').next())
                .filter(|m| !m.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Now, as `managedFields` times are written.
fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An object as the API shows it: its field managers as `metadata.managedFields`.
fn shown(obj: &DynamicObject) -> Value {
    let mut value = obj.to_value();
    managed::present(&mut value);
    value
}

/// A field selector: `FIELD=VALUE`, `FIELD==VALUE` or `FIELD!=VALUE`, comma-separated.
/// `metadata.name` and `metadata.namespace` are read from the metadata; any other field is
/// a dotted path into the object (`involvedObject.name` of an Event, `spec.hardwareRef` of
/// a Workflow), its text compared (a missing field is the empty string). Kubernetes allows
/// a few fields per kind; this takes any, a superset.
struct FieldSelector(Vec<(bool, String, String)>);

/// Most terms a field selector may hold.
const MAX_FIELD_TERMS: usize = 16;

impl FieldSelector {
    fn parse(text: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for term in text.split(',').filter(|t| !t.is_empty()) {
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector {term:?}: FIELD=VALUE or FIELD!=VALUE"
                )));
            };
            let field = field.trim();
            if field.is_empty()
                || field.split('.').any(str::is_empty)
                || terms.len() == MAX_FIELD_TERMS
            {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector {term:?}: a dotted field path, at most {MAX_FIELD_TERMS} terms"
                )));
            }
            terms.push((equal, field.to_string(), value.trim().to_string()));
        }
        Ok(Self(terms))
    }

    fn matches(&self, obj: &DynamicObject) -> bool {
        let mut json = None;
        self.0.iter().all(|(equal, field, value)| {
            let actual = match field.as_str() {
                "metadata.name" => obj.name().to_string(),
                "metadata.namespace" => obj.namespace().to_string(),
                path => {
                    let v = json.get_or_insert_with(|| obj.to_value());
                    path.split('.')
                        .try_fold(&*v, |v, key| v.get(key))
                        .map(ironbell_model::jsonpath::value_text)
                        .unwrap_or_default()
                }
            };
            (actual == *value) == *equal
        })
    }
}

impl Ctx<'_> {
    fn flag(&self, name: &str) -> bool {
        self.query
            .get(name)
            .is_some_and(|v| v == "true" || v == "1")
    }

    fn params(&self, res: &Res<'_>) -> Result<(ListParams, FieldSelector), ApiError> {
        let selector = self
            .query
            .get("labelSelector")
            .filter(|s| !s.is_empty())
            .map(|s| Selector::parse(s))
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("labelSelector: {e}")))?;
        let fields =
            FieldSelector::parse(self.query.get("fieldSelector").map_or("", String::as_str))?;
        let namespace = (!res.namespace.is_empty()).then(|| res.namespace.clone());
        Ok((
            ListParams {
                namespace,
                selector,
            },
            fields,
        ))
    }

    fn include(&self) -> IncludeObject {
        IncludeObject::parse(self.query.get("includeObject").map(String::as_str))
    }

    fn object_response(
        &self,
        res: &Res<'_>,
        code: StatusCode,
        obj: &DynamicObject,
    ) -> Response<Body> {
        if self.as_table {
            let t = discovery::table(res.kind, std::slice::from_ref(obj), None, self.include());
            return json_response(code, &t);
        }
        json_response(code, &shown(obj))
    }

    async fn get(&self, res: &Res<'_>, name: &str) -> Result<Response<Body>, ApiError> {
        let obj = self
            .state
            .store
            .get(&res.kind.type_key(), &res.namespace, name)
            .await
            .map_err(|e| res.error(&e))?;
        Ok(self.object_response(res, StatusCode::OK, &obj))
    }

    /// A list, or one page of it (`limit`, `continue`: see [`paging`]).
    async fn list(&self, res: &Res<'_>) -> Result<Response<Body>, ApiError> {
        let (params, fields) = self.params(res)?;
        let types = res.kind.type_key();
        let collection = format!(
            "{}/{}/{}",
            res.kind.api_version, res.kind.plural, res.namespace
        );
        let token = self
            .query
            .get("continue")
            .filter(|t| !t.is_empty())
            .map(|t| paging::Continue::decode(t, &collection))
            .transpose()?;
        if let Some(token) = &token {
            // Expired once the first page's version is compacted away, as in Kubernetes.
            if let Err(StoreError::TooOld { .. }) = self
                .state
                .store
                .watch(&types, &params, Some(token.version))
                .await
            {
                return Err(paging::expired("its resourceVersion has been compacted"));
            }
        }
        let limit = match self.query.get("limit").filter(|l| !l.is_empty()) {
            Some(l) => Some(l.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("limit {l:?} is not a number of objects"))
            })?),
            None => None,
        };
        // The kept rest of this list: same collection and selectors.
        let key = format!(
            "{collection}?{}&{}",
            self.query.get("labelSelector").map_or("", String::as_str),
            self.query.get("fieldSelector").map_or("", String::as_str)
        );
        let kept = token
            .as_ref()
            .and_then(|t| t.kept)
            .and_then(|id| self.state.pages.take(id, &key));
        let (mut page, version) = match kept {
            Some(rest) => (paging::Page::of_rest(limit, rest), 0),
            None => {
                let mut page = paging::Page::new(limit, token.as_ref());
                let version = self
                    .state
                    .store
                    .list_each(&types, &params, &mut |o| {
                        if fields.matches(&o) {
                            page.offer(o);
                        }
                    })
                    .await
                    .map_err(|e| res.error(&e))?;
                (page, version)
            }
        };
        let kept = page
            .take_rest()
            .and_then(|rest| self.state.pages.keep(&key, rest));
        let meta = page.meta(version, token.as_ref(), &collection, kept);
        if self.as_table {
            let t = discovery::table_text(res.kind, &page.items, &meta, self.include());
            return Ok(text_response(t));
        }
        // Built as text: a list of 10,000 objects copies each object's raw JSON once.
        let mut body = format!(
            "{{\"apiVersion\":{},\"kind\":{},\"metadata\":{},\"items\":[",
            Value::from(res.kind.api_version),
            Value::from(format!("{}List", res.kind.kind)),
            meta.to_json()
        );
        for (i, obj) in page.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            if managed::has_entries(obj) {
                body.push_str(&shown(obj).to_string());
                continue;
            }
            let text = obj
                .to_json()
                .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
            body.push_str(&text);
        }
        body.push_str("]}");
        Ok(text_response(body))
    }

    /// Reads a request body as the kind's object, in the path's namespace.
    async fn body_object(
        &self,
        res: &Res<'_>,
        req: Request,
        name: Option<&str>,
    ) -> Result<DynamicObject, ApiError> {
        let value = self.body_value(req).await?;
        self.to_object(res, value, name)
    }

    async fn body_value(&self, req: Request) -> Result<Value, ApiError> {
        let yaml = content_type(req.headers()).contains("yaml");
        let limit = self.state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    413,
                    "RequestEntityTooLarge",
                    format!("the request body is over {limit} bytes or could not be read"),
                )
            })?;
        if yaml {
            serde_yaml_ng::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("the body is not YAML: {e}")))
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
        }
    }

    /// The object `value` says, checked against the path (kind, namespace, name) and the
    /// kind's type; server-managed metadata ironbell does not keep is dropped.
    fn to_object(
        &self,
        res: &Res<'_>,
        mut value: Value,
        name: Option<&str>,
    ) -> Result<DynamicObject, ApiError> {
        let kind = res.kind;
        managed::strip(&mut value);
        let Some(map) = value.as_object_mut() else {
            return Err(ApiError::bad_request("the body is not an object"));
        };
        for (field, want) in [("apiVersion", kind.api_version), ("kind", kind.kind)] {
            match map.get(field).and_then(Value::as_str) {
                None => {
                    map.insert(field.into(), json!(want));
                }
                Some(given) if given == want => {}
                Some(given) => {
                    return Err(ApiError::bad_request(format!(
                        "the object's {field} {given:?} is not the path's {want:?}"
                    )));
                }
            }
        }
        let meta = map
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata is not an object"))?;
        for dropped in ["managedFields", "selfLink"] {
            meta.remove(dropped);
        }
        if kind.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                None | Some("") => {
                    meta.insert("namespace".into(), json!(res.namespace));
                }
                Some(ns) if ns == res.namespace => {}
                Some(ns) => {
                    return Err(ApiError::bad_request(format!(
                        "the namespace of the object ({ns}) does not match the namespace of the request ({})",
                        res.namespace
                    )));
                }
            }
            if res.namespace.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "{} are namespaced: write them under /namespaces/NS/",
                    kind.plural
                )));
            }
        }
        if let Some(name) = name {
            match meta.get("name").and_then(Value::as_str) {
                Some(n) if n == name => {}
                None => {
                    meta.insert("name".into(), json!(name));
                }
                Some(n) => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name of the request ({name})"
                    )));
                }
            }
        }
        let obj: DynamicObject = serde_json::from_value(value).map_err(|e| {
            ApiError::invalid(format!("{} is invalid: {e}", kind.kind)).about(
                name.unwrap_or_default(),
                kind.group(),
                kind.plural,
            )
        })?;
        self.state.kinds.validate(&obj).map_err(|e| {
            ApiError::invalid(e.to_string()).about(obj.name(), kind.group(), kind.plural)
        })
    }

    async fn create(&self, res: &Res<'_>, req: Request) -> Result<Response<Body>, ApiError> {
        let mut obj = self.body_object(res, req, None).await?;
        obj.metadata.resource_version = None;
        // As for a CRD with a status subresource: a create's `status` is ignored (it is
        // written through `/status`).
        obj.remove_field("status");
        if self.dry_run() {
            return Ok(self.object_response(res, StatusCode::CREATED, &obj));
        }
        let created = self
            .state
            .store
            .create(obj)
            .await
            .map_err(|e| res.error(&e))?;
        Ok(self.object_response(res, StatusCode::CREATED, &created))
    }

    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }

    async fn replace(
        &self,
        res: &Res<'_>,
        name: &str,
        status: bool,
        req: Request,
    ) -> Result<Response<Body>, ApiError> {
        let mut obj = self.body_object(res, req, Some(name)).await?;
        let current = self
            .state
            .store
            .get(&res.kind.type_key(), &res.namespace, name)
            .await
            .map_err(|e| res.error(&e))?;
        if obj
            .metadata
            .resource_version
            .as_deref()
            .is_none_or(str::is_empty)
        {
            // Kubernetes' unconditional update: against whatever is stored now.
            obj.metadata.resource_version = current.metadata.resource_version.clone();
        }
        if !status {
            self.record_update(res, &current, &mut obj);
        }
        let written = self.write(res, obj, status).await?;
        Ok(self.object_response(res, StatusCode::OK, &written))
    }

    /// Records in `obj` that this request's manager changed what it changed from `current`,
    /// keeping the other managers' entries; only on an object a server-side apply has
    /// given entries (see [`managed`]).
    fn record_update(&self, res: &Res<'_>, current: &DynamicObject, obj: &mut DynamicObject) {
        if !managed::has_entries(current) {
            return;
        }
        let mut managers = Managers::of(current);
        managers.update(
            &self.manager,
            res.kind.api_version,
            &now(),
            Some(&current.to_value()),
            &obj.to_value(),
        );
        managers.store(obj);
    }

    async fn write(
        &self,
        res: &Res<'_>,
        obj: DynamicObject,
        status: bool,
    ) -> Result<DynamicObject, ApiError> {
        if self.dry_run() {
            return Ok(obj);
        }
        let store = &self.state.store;
        let written = if status {
            store.update_status(obj).await
        } else {
            store.update(obj).await
        };
        written.map_err(|e| res.error(&e))
    }

    async fn patch(
        &self,
        res: &Res<'_>,
        name: &str,
        status: bool,
        req: Request,
    ) -> Result<Response<Body>, ApiError> {
        let kind = PatchKind::of(content_type(req.headers()))?;
        let patch = self.body_value(req).await?;
        let types = res.kind.type_key();
        for _ in 0..5 {
            let current = match self.state.store.get(&types, &res.namespace, name).await {
                Ok(c) => c,
                Err(e) if e.is_not_found() && kind == PatchKind::Apply => {
                    // Server-side apply of a new object creates it.
                    let mut obj = self.to_object(res, patch.clone(), Some(name))?;
                    let mut managers = Managers::default();
                    let applied = obj.to_value();
                    let _ = managers.apply(
                        &self.manager,
                        res.kind.api_version,
                        &now(),
                        &applied,
                        None,
                        true,
                    );
                    managers.store(&mut obj);
                    let created = self
                        .state
                        .store
                        .create(obj)
                        .await
                        .map_err(|e| res.error(&e))?;
                    return Ok(self.object_response(res, StatusCode::CREATED, &created));
                }
                Err(e) => return Err(res.error(&e)),
            };
            let mut doc = current.to_value();
            let mut managers = Managers::of(&current);
            match kind {
                PatchKind::Apply if !status => {
                    let removed = managers
                        .apply(
                            &self.manager,
                            res.kind.api_version,
                            &now(),
                            &patch,
                            Some(&doc),
                            self.flag("force"),
                        )
                        .map_err(|c| apply_conflicts(res, name, &c))?;
                    json_patch::merge(&mut doc, &patch);
                    for field in &removed {
                        managed::remove(&mut doc, field);
                    }
                }
                PatchKind::Merge | PatchKind::Apply => json_patch::merge(&mut doc, &patch),
                PatchKind::Json => {
                    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                        .map_err(|e| ApiError::bad_request(format!("not a JSON patch: {e}")))?;
                    json_patch::patch(&mut doc, &ops).map_err(|e| {
                        ApiError::invalid(format!("the JSON patch does not apply: {e}"))
                    })?;
                }
            }
            let pinned = patch
                .pointer("/metadata/resourceVersion")
                .is_some_and(|v| !v.is_null());
            let mut obj = self.to_object(res, doc, Some(name))?;
            if !status {
                if kind == PatchKind::Apply {
                    managers.store(&mut obj);
                } else {
                    self.record_update(res, &current, &mut obj);
                }
            }
            match self.write(res, obj, status).await {
                Err(e) if e.reason == "Conflict" && !pinned => continue,
                Err(e) => return Err(e),
                Ok(written) => return Ok(self.object_response(res, StatusCode::OK, &written)),
            }
        }
        Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "{} {name} kept changing while it was patched; try again",
                res.kind.kind
            ),
        ))
    }

    async fn delete(
        &self,
        res: &Res<'_>,
        name: &str,
        req: Request,
    ) -> Result<Response<Body>, ApiError> {
        // DeleteOptions may carry a precondition on the resourceVersion.
        let options = match self.body_value(req).await {
            Ok(v) => v,
            Err(e) if e.code == 400 => Value::Null,
            Err(e) => return Err(e),
        };
        let precondition = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str);
        if self.dry_run() {
            return self.get(res, name).await;
        }
        let gone = self
            .state
            .store
            .delete(&res.kind.type_key(), &res.namespace, name, precondition)
            .await
            .map_err(|e| res.error(&e))?;
        Ok(self.object_response(res, StatusCode::OK, &gone))
    }

    /// A watch: `ADDED` for every object first unless a `resourceVersion` other than `0`
    /// is given, then every change; `BOOKMARK`s when asked; an `ERROR` event with a 410
    /// `Expired` Status when the history asked for is compacted.
    fn watch(&self, res: &Res<'_>, name: Option<String>) -> Result<Response<Body>, ApiError> {
        let (params, mut fields) = self.params(res)?;
        if let Some(name) = name {
            fields.0.push((true, "metadata.name".into(), name));
        }
        let from = match self.query.get("resourceVersion").map(String::as_str) {
            None | Some("" | "0") => None,
            Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("resourceVersion {rv:?} is not a version"))
            })?),
        };
        let config = &self.state.config;
        let limit = self
            .query
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(config.max_watch, |s| {
                Duration::from_secs(s).min(config.max_watch)
            });
        let watch = Watch {
            store: self.state.store.clone(),
            kind: *res.kind,
            params,
            fields,
            from,
            bookmarks: self.flag("allowWatchBookmarks") && !self.as_table,
            bookmark_interval: config.bookmark_interval,
            deadline: tokio::time::Instant::now() + limit,
            as_table: self.as_table,
            include: self.include(),
        };
        let (tx, rx) = mpsc::channel::<bytes::Bytes>(64);
        tokio::spawn(watch.run(tx).instrument(tracing::Span::current()));
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
        });
        let mut resp = Response::new(Body::from_stream(stream));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        Ok(resp)
    }

    /// Namespaces: those objects are in, and `default`.
    async fn namespaces(&self, name: Option<&str>) -> Result<Response<Body>, ApiError> {
        let mut names = BTreeSet::from(["default".to_string()]);
        for kind in self.state.kinds.kinds().filter(|k| k.namespaced) {
            self.state
                .store
                .list_each(&kind.type_key(), &ListParams::default(), &mut |o| {
                    if !names.contains(o.namespace()) {
                        names.insert(o.namespace().to_string());
                    }
                })
                .await
                .map_err(|e| ApiError::from_store(&e, "", "namespaces"))?;
        }
        let object = |n: &str| {
            json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
            })
        };
        let objects: Vec<Value> = match name {
            Some(n) if names.contains(n) => vec![object(n)],
            Some(n) => {
                return Err(ApiError::new(
                    404,
                    "NotFound",
                    format!("namespaces \"{n}\" not found"),
                )
                .about(n, "", "namespaces"));
            }
            None => names.iter().map(|n| object(n)).collect(),
        };
        self.virtual_objects(&NAMESPACE_KIND, objects, name.is_some())
    }

    /// The `CustomResourceDefinition` of every kind outside the core group.
    fn crds(&self, name: Option<&str>) -> Result<Response<Body>, ApiError> {
        let all = self
            .state
            .kinds
            .kinds()
            .filter(|k| !k.group().is_empty())
            .map(discovery::crd);
        let objects: Vec<Value> = match name {
            Some(n) => {
                let found: Vec<Value> = all.filter(|c| c["metadata"]["name"] == n).collect();
                if found.is_empty() {
                    return Err(ApiError::new(
                        404,
                        "NotFound",
                        format!("customresourcedefinitions.apiextensions.k8s.io \"{n}\" not found"),
                    )
                    .about(
                        n,
                        "apiextensions.k8s.io",
                        "customresourcedefinitions",
                    ));
                }
                found
            }
            None => all.collect(),
        };
        self.virtual_objects(&CRD_KIND, objects, name.is_some())
    }

    fn virtual_objects(
        &self,
        kind: &KindInfo,
        objects: Vec<Value>,
        single: bool,
    ) -> Result<Response<Body>, ApiError> {
        if self.as_table {
            let objs: Vec<DynamicObject> = objects
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect();
            let t = discovery::table(kind, &objs, None, self.include());
            return Ok(json_response(StatusCode::OK, &t));
        }
        let value = if single {
            objects.into_iter().next().unwrap_or(Value::Null)
        } else {
            json!({"apiVersion": kind.api_version, "kind": format!("{}List", kind.kind),
                   "metadata": {}, "items": objects})
        };
        Ok(json_response(StatusCode::OK, &value))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PatchKind {
    /// RFC 7386 (and strategic merge patch, taken as a merge patch: lists are replaced).
    Merge,
    /// RFC 6902.
    Json,
    /// Server-side apply, as a merge of the applied object (no field managers).
    Apply,
}

impl PatchKind {
    fn of(content_type: &str) -> Result<Self, ApiError> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                Ok(Self::Merge)
            }
            "application/json-patch+json" => Ok(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            other => Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the patch content type {other:?} is not supported"),
            )),
        }
    }
}

/// The 409 of an apply whose fields other managers own, listed as Kubernetes lists them
/// (kubectl prints the message and suggests `--force-conflicts`).
fn apply_conflicts(res: &Res<'_>, name: &str, conflicts: &[managed::Conflict]) -> ApiError {
    let mut by_manager: Vec<(&str, Vec<String>)> = Vec::new();
    for c in conflicts {
        let field = managed::dotted(&c.field);
        match by_manager.iter_mut().find(|(m, _)| *m == c.manager) {
            Some((_, fields)) => fields.push(field),
            None => by_manager.push((&c.manager, vec![field])),
        }
    }
    let list: Vec<String> = by_manager
        .iter()
        .map(|(m, fields)| {
            format!(
                "conflict with \"{m}\" using {}: {}",
                res.kind.api_version,
                fields.join(", ")
            )
        })
        .collect();
    let count = conflicts.len();
    let mut err = ApiError::new(
        409,
        "Conflict",
        format!(
            "Apply failed with {count} conflict{}: {}",
            if count == 1 { "" } else { "s" },
            list.join("; ")
        ),
    )
    .about(name, res.kind.group(), res.kind.plural);
    err.causes = conflicts
        .iter()
        .map(|c| {
            (
                managed::dotted(&c.field),
                format!("conflict with \"{}\"", c.manager),
            )
        })
        .collect::<Vec<_>>()
        .into_boxed_slice();
    err
}

/// A 200 with a JSON text built by hand.
fn text_response(text: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// OpenAPI v2, empty: kubectl reads it (in protobuf) only to validate on the client what
/// the v3 documents do not let the server validate (a `v1 List`), and skips the kinds it
/// does not find there.
fn openapi_v2(headers: &HeaderMap) -> Response<Body> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("protobuf") {
        // gnostic's `openapi_v2.Document`: swagger = "2.0" (field 1), info (field 2) with
        // title = "ironbell" (1) and version = "0" (2).
        let mut doc = vec![0x0a, 3];
        doc.extend_from_slice(b"2.0");
        doc.extend_from_slice(&[0x12, 13, 0x0a, 8]);
        doc.extend_from_slice(b"ironbell");
        doc.extend_from_slice(&[0x12, 1, b'0']);
        let mut resp = Response::new(Body::from(doc));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            ),
        );
        return resp;
    }
    json_response(
        StatusCode::OK,
        &json!({
            "swagger": "2.0",
            "info": {"title": "ironbell", "version": "0"},
            "paths": {},
            "definitions": {},
        }),
    )
}

/// One watch's producer, run as a task feeding the response body.
struct Watch {
    store: SharedStore,
    kind: KindInfo,
    params: ListParams,
    fields: FieldSelector,
    from: Option<u64>,
    bookmarks: bool,
    bookmark_interval: Duration,
    deadline: tokio::time::Instant,
    as_table: bool,
    include: IncludeObject,
}

impl Watch {
    fn event(&self, kind: &str, obj: &DynamicObject) -> bytes::Bytes {
        let object = if self.as_table {
            discovery::table(&self.kind, std::slice::from_ref(obj), None, self.include)
        } else {
            shown(obj)
        };
        line(&json!({"type": kind, "object": object}))
    }

    async fn run(self, tx: mpsc::Sender<bytes::Bytes>) {
        let types = self.kind.type_key();
        let error = |e: &StoreError| {
            let status = ApiError::from_store(e, self.kind.group(), self.kind.plural).status();
            line(&json!({"type": "ERROR", "object": status}))
        };
        let mut last = match self.from {
            Some(rv) => rv,
            None => match self.store.list(&types, &self.params).await {
                Ok(list) => {
                    for obj in list.items.iter().filter(|o| self.fields.matches(o)) {
                        if tx.send(self.event("ADDED", obj)).await.is_err() {
                            return;
                        }
                    }
                    list.resource_version
                }
                Err(e) => {
                    let _ = tx.send(error(&e)).await;
                    return;
                }
            },
        };
        let mut changes = match self.store.watch(&types, &self.params, Some(last)).await {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(error(&e)).await;
                return;
            }
        };
        let mut ticker = tokio::time::interval(self.bookmark_interval);
        ticker.reset();
        loop {
            let out = tokio::select! {
                change = changes.next() => match change {
                    None => return,
                    Some(Err(e)) => {
                        let _ = tx.send(error(&e)).await;
                        return;
                    }
                    Some(Ok(change)) => {
                        let (kind, obj) = match &change {
                            WatchEvent::Added(o) => ("ADDED", o),
                            WatchEvent::Modified(o) => ("MODIFIED", o),
                            WatchEvent::Deleted(o) => ("DELETED", o),
                        };
                        if let Some(rv) = obj.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()) {
                            last = last.max(rv);
                        }
                        if !self.fields.matches(obj) {
                            continue;
                        }
                        self.event(kind, obj)
                    }
                },
                _ = ticker.tick(), if self.bookmarks => line(&json!({
                    "type": "BOOKMARK",
                    "object": {"apiVersion": self.kind.api_version, "kind": self.kind.kind,
                               "metadata": {"resourceVersion": last.to_string()}},
                })),
                () = tokio::time::sleep_until(self.deadline) => return,
                () = tx.closed() => return,
            };
            if tx.send(out).await.is_err() {
                return;
            }
        }
    }
}

fn line(v: &Value) -> bytes::Bytes {
    let mut text = v.to_string();
    text.push('\n');
    bytes::Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_model::ObjectMeta;

    #[test]
    fn paths_name_their_targets() {
        let resource =
            |gv: &str, path: &str| match Target::parse(gv, &path.split('/').collect::<Vec<_>>()) {
                Some(Target::Resource {
                    plural,
                    namespace,
                    name,
                    status,
                }) => Some((plural, namespace, name, status)),
                _ => None,
            };
        assert_eq!(
            resource(
                "tinkerbell.org/v1alpha1",
                "namespaces/default/hardware/wk01/status"
            ),
            Some((
                "hardware".into(),
                Some("default".into()),
                Some("wk01".into()),
                true
            ))
        );
        assert_eq!(
            resource("v1", "nodes/n1"),
            Some(("nodes".into(), None, Some("n1".into()), false))
        );
        assert_eq!(
            resource("v1", "secrets"),
            Some(("secrets".into(), None, None, false))
        );
        assert!(resource("v1", "a/b/c/d/e/f").is_none());
        assert!(matches!(
            Target::parse("v1", &["namespaces"]),
            Some(Target::Namespaces(None))
        ));
        assert!(matches!(
            Target::parse("v1", &["namespaces", "x"]),
            Some(Target::Namespaces(Some(n))) if n == "x"
        ));
        assert!(matches!(
            Target::parse(discovery::CRD_GROUP_VERSION, &["customresourcedefinitions"]),
            Some(Target::Crds(None))
        ));
    }

    #[test]
    fn field_selectors() {
        let obj = DynamicObject::new(
            ironbell_model::TypeKey::new("v1", "Secret"),
            ObjectMeta::named("ns1", "s1"),
        );
        let sel = |s: &str| FieldSelector::parse(s).expect(s).matches(&obj);
        assert!(sel("metadata.name=s1"));
        assert!(sel("metadata.name==s1,metadata.namespace=ns1"));
        assert!(!sel("metadata.name!=s1"));
        assert!(sel("metadata.namespace!=other"));
        assert!(sel(""));
        assert!(sel("kind=Secret"));
        assert!(sel("spec.missing="));
        assert!(!sel("spec.missing=x"));
        for bad in ["spec..x=1", "metadata.name", "=x"] {
            let err = FieldSelector::parse(bad).err().expect(bad);
            assert_eq!(err.code, 400, "{bad}");
        }
    }

    #[test]
    fn patch_types() {
        assert_eq!(
            PatchKind::of("application/merge-patch+json").ok(),
            Some(PatchKind::Merge)
        );
        assert_eq!(
            PatchKind::of("application/strategic-merge-patch+json; charset=utf-8").ok(),
            Some(PatchKind::Merge)
        );
        assert_eq!(
            PatchKind::of("application/json-patch+json").ok(),
            Some(PatchKind::Json)
        );
        assert_eq!(
            PatchKind::of("application/apply-patch+yaml").ok(),
            Some(PatchKind::Apply)
        );
        assert_eq!(PatchKind::of("text/plain").err().map(|e| e.code), Some(415));
    }

    #[test]
    fn store_errors_are_statuses_with_reasons() {
        let e = StoreError::NotFound {
            kind: "Hardware".into(),
            namespace: "default".into(),
            name: "wk01".into(),
        };
        let s = ApiError::from_store(&e, "tinkerbell.org", "hardware").status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["details"]["name"], "wk01");
        assert_eq!(s["details"]["kind"], "hardware");
        let old = ApiError::from_store(
            &StoreError::TooOld {
                requested: 1,
                oldest: 9,
            },
            "",
            "x",
        );
        assert_eq!((old.code, old.reason), (410, "Expired"));
        let invalid = ApiError::invalid("spec.x: bad").status();
        assert_eq!(invalid["details"]["causes"][0]["message"], "spec.x: bad");
    }
}
