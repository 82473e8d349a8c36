//! [`ApiError`]: every error the HTTP API returns, and the one `IntoResponse` that turns it into
//! `{"error": "<code>", "message": "..."}`. The codes are stable snake_case; clients match on
//! them, so a code is never renamed.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::http::header::{HeaderValue, WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};
use cairn_runtime::{CallError, CommandError, LoadError};
use cairn_store::{AppendError, ExpectedVersion, ReadError, StorageError, StreamId, Version};
use serde::Serialize;

/// An error reply: its status, stable code, message and any details.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    conflict: Option<Conflict>,
    failures: Option<Vec<cairn_runtime::ReplayFailure>>,
}

/// What a 409 for a wrong expected version adds to the body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Conflict {
    /// The stream.
    #[schema(value_type = String)]
    pub stream: StreamId,
    /// What the writer expected: `"any"`, `"no_stream"`, `"exists"` or a version.
    #[schema(value_type = Object)]
    pub expected: ExpectedVersion,
    /// The stream's version when the write was checked.
    #[schema(value_type = u64)]
    pub actual: Version,
}

/// The body of every error reply.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code, such as `wrong_expected_version`.
    pub error: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// With `wrong_expected_version`: the stream.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(inline)]
    pub conflict: Option<Conflict>,
    /// With `incompatible_with_history`: the first stored events the module cannot read, each
    /// with its stream, version, type and error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub failures: Option<Vec<cairn_runtime::ReplayFailure>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            conflict: None,
            failures: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs an API key: send `Authorization: Bearer <key>`",
        )
    }

    /// The 403 for a change made under the console's cookie without its CSRF token.
    pub fn csrf_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_refused",
            "a change made with the console's key cookie must carry `X-Cairn-CSRF` with the \
             session's token (from `GET /ui/session`), or send `Authorization: Bearer <key>`",
        )
    }

    /// The 409 for a module that cannot read the history it would serve.
    pub fn incompatible_with_history(module: &str, report: cairn_runtime::AggregatePlan) -> Self {
        let replay = &report.replay;
        let first = replay
            .failures
            .first()
            .map_or(String::new(), |f| format!("; the first: {f}"));
        let message = if report.kind == "upcaster" {
            format!(
                "the events of category '{}' cannot be read through this version of upcaster \
                 '{module}' in {} of its {} streams{first}. Fix the upcaster for those events \
                 (`cairn_sdk::testing::upcast` tests one natively); `cairn deploy --plan` shows \
                 every change, and `?force=true` uploads it anyway",
                report.category, replay.failed, replay.streams
            )
        } else {
            format!(
                "this version of '{module}' cannot read the events already stored in {} of its \
                 {} streams{first}. Stored events are kept forever: read their old shape too (a \
                 serde default or alias), or add an upcaster; `cairn deploy --plan` shows every \
                 change, and `?force=true` uploads it anyway",
                replay.failed, replay.streams
            )
        };
        let mut error = Self::new(StatusCode::CONFLICT, "incompatible_with_history", message);
        error.failures = Some(report.replay.failures);
        error
    }

    /// The status of the reply.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code of the reply.
    pub fn code(&self) -> &'static str {
        self.code
    }

    fn into_body(self) -> ErrorBody {
        ErrorBody {
            error: self.code,
            message: self.message,
            conflict: self.conflict,
            failures: self.failures,
        }
    }

    /// The JSON body as text, for an error told inside a stream already answered (an SSE
    /// `error` event) rather than as a reply.
    pub fn body_json(self) -> String {
        serde_json::to_string(&self.into_body())
            .unwrap_or_else(|_| String::from(r#"{"error":"internal","message":""}"#))
    }
}

impl IntoResponse for ApiError {
    /// The JSON body; a 401 also says which scheme to authenticate with (RFC 9110).
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(self.into_body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A rejection by one of axum's extractors, by its status: the status axum chose is right, the
/// body becomes ours, in cairn's words. `limit` is the body limit of the route.
fn rejection(status: StatusCode, text: &str, limit: usize) -> ApiError {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::BAD_REQUEST => "malformed_json",
        _ => "bad_request",
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large(limit),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "send the body as JSON, with `Content-Type: application/json`".to_owned()
        }
        // The positions of a syntax error are the caller's own body's: they stay.
        StatusCode::BAD_REQUEST => format!("the body is not valid JSON: {}", after_colon(text)),
        StatusCode::UNPROCESSABLE_ENTITY => {
            format!("the body does not fit: {}", serde_words(after_colon(text)))
        }
        _ => text.to_owned(),
    };
    ApiError::new(status, code, message)
}

/// The message of a body over `limit` bytes.
pub(crate) fn body_too_large(limit: usize) -> String {
    let mib = limit / (1024 * 1024);
    if mib > 0 && limit.is_multiple_of(1024 * 1024) {
        format!("the request body is over this route's limit of {mib} MiB ({limit} bytes)")
    } else {
        format!("the request body is over this route's limit of {limit} bytes")
    }
}

/// What follows the framework's own words ("Failed to deserialize ...: "), if they are there.
fn after_colon(text: &str) -> &str {
    match text.split_once(": ") {
        Some((framework, detail)) if framework.starts_with("Failed to") => detail,
        _ => text,
    }
}

/// serde's description of a value that does not fit its type, said for a caller: without
/// the position in a re-encoded text (which the caller cannot use), and with fields named as
/// fields of the body.
pub(crate) fn serde_words(detail: &str) -> String {
    let detail = without_position(detail);
    if let Some(field) = detail
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return format!("it has no `{field}` field, which is required");
    }
    if let Some(rest) = detail.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once("`, expected ") {
            return format!(
                "it has a field `{field}` that is not taken here (expected {expected})"
            );
        }
        if let Some((field, _)) = rest.split_once("`, there are no fields") {
            return format!("`{field}` is not taken here: there is nothing to pass");
        }
    }
    detail.to_owned()
}

/// `detail` without a trailing " at line L column C".
pub(crate) fn without_position(detail: &str) -> &str {
    if let Some(at) = detail.rfind(" at line ") {
        let tail = &detail[at + " at line ".len()..];
        let mut parts = tail.split(" column ");
        let numbers = |s: Option<&str>| {
            s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        };
        if numbers(parts.next()) && numbers(parts.next()) && parts.next().is_none() {
            return &detail[..at];
        }
    }
    detail
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        rejection(r.status(), &r.body_text(), crate::http::MAX_BODY_BYTES)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                rejection(r.status(), &r.body_text(), crate::http::MAX_BODY_BYTES)
            }
            // A body that could not be read is not a body of bad JSON.
            status => ApiError::new(
                status,
                "bad_request",
                format!(
                    "the body could not be read: {}",
                    after_colon(&r.body_text())
                ),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        let text = r.body_text();
        let detail = without_position(after_colon(&text));
        // serde_urlencoded may name the field first ("version: unknown field `version`").
        let unknown = detail
            .find("unknown field `")
            .map(|at| &detail[at + "unknown field `".len()..]);
        let message = if let Some(rest) = unknown {
            match rest.split_once('`') {
                Some((name, more)) if more.starts_with(", there are no fields") => {
                    format!("this route takes no query parameters, not `{name}`")
                }
                Some((name, more)) => format!(
                    "`{name}` is not a query parameter of this route{}",
                    more.strip_prefix(", expected ")
                        .map(|e| format!(" (it takes {e})"))
                        .unwrap_or_default()
                ),
                None => detail.to_owned(),
            }
        } else {
            format!("a query parameter is not valid: {detail}")
        };
        ApiError::bad_request("invalid_query", message)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", r.body_text())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the store is closed: the server is shutting down",
            ),
            // Never served as data: the record's bytes do not match its checksum, or do not
            // decode. `/healthz` reports it too.
            StorageError::Damaged(damage) => {
                tracing::error!(%damage, "a damaged record was read; it is not served");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_corrupt",
                    format!(
                        "{damage}; it is not served. Stop the server, run `cairn verify` on its \
                         data directory, and restore a backup"
                    ),
                )
            }
            // The disk or the database failed under the request: the host's fault, which a
            // retry may get past once it is fixed.
            StorageError::Backend(_) => {
                tracing::error!(error = %e, "storage failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_failed",
                    e.to_string(),
                )
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_failed",
                    other.to_string(),
                )
            }
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Storage(e) => e.into(),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        let message = e.to_string();
        match e {
            AppendError::WrongExpectedVersion {
                stream,
                expected,
                actual,
            } => Self {
                status: StatusCode::CONFLICT,
                code: "wrong_expected_version",
                message,
                conflict: Some(Conflict {
                    stream,
                    expected,
                    actual,
                }),
                failures: None,
            },
            AppendError::IdempotencyConflict { .. } => {
                Self::new(StatusCode::CONFLICT, "idempotency_conflict", message)
            }
            AppendError::EventIdReused { .. } => {
                Self::new(StatusCode::CONFLICT, "event_id_reused", message)
            }
            AppendError::CommandIdReused { .. } => {
                Self::new(StatusCode::CONFLICT, "command_id_reused", message)
            }
            AppendError::ReservedStream(_) => Self::bad_request("reserved_stream", message),
            AppendError::NoEvents => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "no_events", message)
            }
            AppendError::TooManyEvents { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "too_many_events", message)
            }
            AppendError::DuplicateEventId { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "duplicate_event_id",
                message,
            ),
            AppendError::EventTooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "event_too_large", message)
            }
            AppendError::MetadataNotObject { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "metadata_not_object",
                message,
            ),
            AppendError::Storage(e) => e.into(),
        }
    }
}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> Self {
        let message = e.to_string();
        match e {
            LoadError::Name(_) => Self::bad_request("invalid_module_name", message),
            LoadError::Invalid { .. } => Self::bad_request("invalid_module", message),
            LoadError::ExceedsLimits { .. } => Self::bad_request("module_exceeds_limits", message),
            LoadError::CoreModule => Self::bad_request("core_module", message),
            LoadError::WrongWorld { .. } => Self::bad_request("wrong_world", message),
            LoadError::BadImport { .. } => Self::bad_request("bad_import", message),
            LoadError::Module(_) => Self::bad_request("module_failed", message),
            LoadError::NameTaken { .. } => Self::new(StatusCode::CONFLICT, "name_taken", message),
            LoadError::Upgrades { .. } => Self::bad_request("invalid_upgrades", message),
            LoadError::CategoryTaken { .. } => {
                Self::new(StatusCode::CONFLICT, "category_taken", message)
            }
            LoadError::UnexpectedKind { .. } => Self::bad_request("not_a_reactor", message),
            LoadError::Storage(e) => e.into(),
            LoadError::Read(e) => e.into(),
            LoadError::Host(_) => {
                tracing::error!(%message, "the runtime failed to load a module");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "runtime_failed", message)
            }
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let message = e.to_string();
        match e {
            CommandError::UnknownModule(_) => Self::not_found("unknown_module", message),
            CommandError::InvalidId(_) => Self::bad_request("invalid_name", message),
            CommandError::Rejected(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", message)
            }
            CommandError::InvalidCommand(detail) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_command",
                format!(
                    "the command is not valid for this aggregate: {}",
                    serde_words(&detail)
                ),
            ),
            CommandError::Conflict(e) => e.into(),
            CommandError::Module(e) => e.into(),
            CommandError::Storage(e) => e.into(),
        }
    }
}

impl From<CallError> for ApiError {
    /// A module that fails is the module's fault, not the caller's: a 500 with a code that says
    /// how it failed (`module_*`). A failure of the host is never given a module's code: a
    /// backstop reached or storage that failed is a 503, which a retry may get past; the host's
    /// own failure is a 500 `internal`. Nothing was appended either way.
    fn from(e: CallError) -> Self {
        let code = call_error_code(&e);
        let status = match &e {
            CallError::HostFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ if e.is_host_fault() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if e.is_host_fault() {
            tracing::error!(error = %e, "a module call failed by the host's fault");
        }
        Self::new(status, code, e.to_string())
    }
}

/// The stable code of a failed call; also the `kind` label of the traps and host faults
/// metrics. The module's failures begin with `module_`; the host's never do.
pub fn call_error_code(e: &CallError) -> &'static str {
    e.code()
}
