//! `PUT /v1/modules/{name}` (upload a component), `GET /v1/modules[/{name}]`, and
//! `DELETE /v1/modules/{name}` (remove one).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use cairn_runtime::{InstallError, ModuleKind};
use cairn_store::ModuleRecord;

use crate::http::error::ApiError;
use crate::http::extract::{PathParams, QueryParams};
use crate::http::state::AppState;

/// The largest module body.
pub(super) const MAX_MODULE_BYTES: usize = 16 * 1024 * 1024;

/// A loaded module.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ModuleInfo {
    pub name: String,
    /// `aggregate`, `projection` or `upcaster`.
    pub kind: String,
    /// The sha256 of the component, in hex.
    pub hash: String,
    /// Counts from 1; each distinct upload under the name is a new version.
    pub version: u64,
    /// How the loaded version's calls have stood: offences (a call that ran out of fuel or CPU)
    /// and probations since it was loaded, and whether it is on probation now.
    #[schema(value_type = Object)]
    pub probation: cairn_runtime::Probation,
}

/// Every loaded module.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ModuleList {
    pub modules: Vec<ModuleInfo>,
}

impl ModuleInfo {
    fn new(r: ModuleRecord, state: &AppState) -> Self {
        let probation = state
            .command_path
            .registry()
            .probation(r.name.as_str())
            .unwrap_or_default();
        Self {
            name: r.name.to_string(),
            kind: r.kind.as_str().to_owned(),
            hash: r.hash.to_string(),
            version: r.version,
            probation,
        }
    }
}

/// Whether an upload checks the history first, and where a reactor starts.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadQuery {
    /// Upload an aggregate or upcaster even when the events already stored cannot be read
    /// through it.
    #[serde(default)]
    pub force: bool,
    /// For a reactor only: build it from after this position, with an empty state, as a reset
    /// does (0 replays the whole log; commands whose keys the aggregates recorded are answered
    /// by their keys, not executed again). Without it, a new reactor starts at the head and a
    /// new version goes on from the checkpoint with the state the last one left.
    pub from: Option<u64>,
}

/// Uploads a module: validated against the cairn worlds, checked against the history it would
/// serve (an aggregate, or the aggregate of an upcaster's category read through it, must read
/// every stored event of its streams; an upcaster must upcast every stored event it upgrades),
/// kept, compiled and swapped in. With `from`, a reactor is built from after that position.
#[utoipa::path(
    put,
    path = "/v1/modules/{name}",
    params(
        ("name" = String, Path, description = "The module's name; an aggregate's streams are `{name}-{id}`"),
        UploadQuery,
    ),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "A WebAssembly component built for wasm32-wasip2"),
    responses(
        (status = 201, description = "A new version, now serving", body = ModuleInfo),
        (status = 200, description = "The same bytes as the latest version: nothing changed", body = ModuleInfo),
        (status = 400, description = "Not a component, a wrong world or a bad import, with the reason; `not_a_reactor` for `from` with another kind", body = crate::http::error::ErrorBody),
        (status = 413, description = "Over 16 MiB", body = crate::http::error::ErrorBody),
        (status = 415, description = "Not `application/wasm`", body = crate::http::error::ErrorBody),
    ),
    tag = "modules"
)]
pub(super) async fn upload(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    query: Result<QueryParams<UploadQuery>, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<ModuleInfo>), ApiError> {
    // A bad query is refused here, once the body has been read: refused by the extractor,
    // before the body, the connection could be closed while the client still sends it.
    let QueryParams(query) = query?;
    let body = module_body(&headers, body)?;
    // A reactor has no history to read; `from` is for reactors only, refused below otherwise.
    if !query.force
        && query.from.is_none()
        && let Some(report) = state
            .command_path
            .check_history(&name, body.clone())
            .await
            .map_err(crate::http::plan::plan_failed)?
    {
        return Err(ApiError::incompatible_with_history(&name, report));
    }
    let uploaded = match query.from {
        Some(from) => state
            .reactors()
            .install_from(&name, body, from)
            .await
            .map_err(|error| match error {
                InstallError::Load(error) => ApiError::from(error),
                InstallError::Reactor(error) => error.into(),
                error @ InstallError::NotBuilt { .. } => ApiError::new(
                    StatusCode::CONFLICT,
                    "reactor_not_running",
                    error.to_string(),
                ),
            })?,
        None => state.command_path.registry().upload(&name, body).await?,
    };
    let status = if uploaded.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ModuleInfo::new(uploaded.record, &state))))
}

/// A component's bytes from a request: `application/wasm`, at most [`MAX_MODULE_BYTES`].
pub(super) fn module_body(
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/wasm" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "a module is uploaded as `Content-Type: application/wasm`, not `{content_type}`"
            ),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                crate::http::error::body_too_large(MAX_MODULE_BYTES),
            )
        } else {
            rejection.into()
        }
    })?;
    Ok(body.to_vec())
}

/// Lists the loaded modules.
#[utoipa::path(
    get,
    path = "/v1/modules",
    operation_id = "list_modules",
    responses((status = 200, description = "Every loaded module, latest version of each", body = ModuleList)),
    tag = "modules"
)]
pub(super) async fn list(State(state): State<AppState>) -> Json<ModuleList> {
    let modules = state.command_path.registry().list();
    Json(ModuleList {
        modules: modules
            .into_iter()
            .map(|m| ModuleInfo::new(m, &state))
            .collect(),
    })
}

/// A loaded module and every version kept under its name.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ModuleDetail {
    #[serde(flatten)]
    pub module: ModuleInfo,
    /// Every version kept under the name, newest first (at most the newest 100).
    pub versions: Vec<ModuleVersion>,
}

/// One kept version of a module.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ModuleVersion {
    pub version: u64,
    /// `aggregate`, `projection` or `upcaster`.
    pub kind: String,
    /// The sha256 of the component, in hex.
    pub hash: String,
    /// When the version was kept, in ms since the Unix epoch; absent for a version kept by a
    /// release that recorded no upload times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<u64>,
}

/// The most versions a module's description lists.
const VERSIONS_LISTED: u64 = 100;

/// Describes one loaded module.
#[utoipa::path(
    get,
    path = "/v1/modules/{name}",
    params(("name" = String, Path, description = "The module's name")),
    responses(
        (status = 200, description = "The module's latest version, and every version kept under its name (`versions`, newest first, at most 100)", body = ModuleDetail),
        (status = 404, description = "No module has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "modules"
)]
pub(super) async fn get(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<ModuleDetail>, ApiError> {
    let record = state
        .command_path
        .registry()
        .list()
        .into_iter()
        .find(|m| m.name.as_str() == name)
        .ok_or_else(|| unknown_module(&name))?;
    let mut versions = Vec::new();
    let oldest = record.version.saturating_sub(VERSIONS_LISTED - 1).max(1);
    for version in (oldest..=record.version).rev() {
        if let Some(kept) = state
            .store
            .module_version(record.name.clone(), version)
            .await?
        {
            let uploaded_at = state
                .store
                .module_uploaded_at(record.name.clone(), version)
                .await?;
            versions.push(ModuleVersion {
                version: kept.version,
                kind: kept.kind.as_str().to_owned(),
                hash: kept.hash.to_string(),
                uploaded_at: uploaded_at.map(|t| t.as_millis()),
            });
        }
    }
    Ok(Json(ModuleDetail {
        module: ModuleInfo::new(record, &state),
        versions,
    }))
}

/// The 404 for a name no module has.
fn unknown_module(name: &str) -> ApiError {
    ApiError::not_found("unknown_module", format!("no module is named '{name}'"))
}

/// What removing a module did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct ModuleRemoved {
    pub name: String,
    /// `aggregate`, `projection` or `upcaster`.
    pub kind: String,
    /// The version that was serving.
    pub version: u64,
    /// The sha256 of that version, in hex.
    pub hash: String,
    /// An aggregate's streams, which stay (`{name}-*`, the category `{name}`); none for a
    /// projection.
    pub streams_kept: Option<String>,
    /// A projection's read models, dropped with it; none for an aggregate.
    pub read_models_dropped: Vec<String>,
    /// What happened, in a sentence.
    pub message: String,
}

impl ModuleRemoved {
    fn new(
        record: ModuleRecord,
        streams_kept: Option<String>,
        read_models_dropped: Vec<String>,
        message: String,
    ) -> Self {
        Self {
            name: record.name.to_string(),
            kind: record.kind.as_str().to_owned(),
            version: record.version,
            hash: record.hash.to_string(),
            streams_kept,
            read_models_dropped,
            message,
        }
    }
}

/// Removes a module. An aggregate's events stay, readable as streams, and its name stays an
/// aggregate's; a projection's runners stop and its read models are dropped, and its name is
/// free again; an upcaster's category is read as stored from then on, and its name is free. Uploading the name again makes a new version.
#[utoipa::path(
    delete,
    path = "/v1/modules/{name}",
    params(("name" = String, Path, description = "The module's name")),
    responses(
        (status = 200, description = "Removed: what, and what was kept or dropped with it", body = ModuleRemoved),
        (status = 404, description = "No module has this name", body = crate::http::error::ErrorBody),
    ),
    tag = "modules"
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<ModuleRemoved>, ApiError> {
    let registry = state.command_path.registry();
    let removed = match registry.kind_of(&name) {
        Some(ModuleKind::Aggregate) => {
            let record = registry
                .remove_aggregate(&name)
                .await?
                .ok_or_else(|| unknown_module(&name))?;
            let message = format!(
                "aggregate {name} v{} is removed; its streams {name}-* stay and can be read, \
                 and the name stays an aggregate's",
                record.version
            );
            ModuleRemoved::new(record, Some(format!("{name}-*")), Vec::new(), message)
        }
        Some(ModuleKind::Projection) => {
            let removed = match state.projections().remove(&name).await {
                Ok(removed) => removed,
                // Removed meanwhile by another request: no module is named so any more.
                Err(cairn_runtime::ControlError::UnknownProjection(_)) => {
                    return Err(unknown_module(&name));
                }
                Err(error) => return Err(error.into()),
            };
            let message = format!(
                "projection {name} v{} is removed with its read models",
                removed.record.version
            );
            let dropped = removed
                .dropped_models
                .iter()
                .map(ToString::to_string)
                .collect();
            ModuleRemoved::new(removed.record, None, dropped, message)
        }
        Some(ModuleKind::Reactor) => {
            let record = match state.reactors().remove(&name).await {
                Ok(record) => record,
                Err(cairn_runtime::ReactorError::UnknownReactor(_)) => {
                    return Err(unknown_module(&name));
                }
                Err(error) => return Err(error.into()),
            };
            let message = format!(
                "reactor {name} v{} is removed with its state; its outcome stream \
                 {name}-outcomes stays, and the name stays a reactor's",
                record.version
            );
            ModuleRemoved::new(record, Some(format!("{name}-*")), Vec::new(), message)
        }
        Some(ModuleKind::Upcaster) => {
            let record = registry
                .remove_upcaster(&name)
                .await?
                .ok_or_else(|| unknown_module(&name))?;
            let message = format!(
                "upcaster {name} v{} is removed; the events it upgraded are read as stored, and \
                 read models built through it are rebuilt",
                record.version
            );
            ModuleRemoved::new(record, None, Vec::new(), message)
        }
        None => return Err(unknown_module(&name)),
    };
    Ok(Json(removed))
}
