//! [`ErrorSource`]: each place an error reply comes from (the edge, auth, an extractor, a check
//! in a handler, or a conversion in `error.rs` of an error of the store or the runtime), and the
//! replies, status and stable code, that each can give.

use axum::http::StatusCode;

/// An error reply as the API description sees it: its status and its stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
}

impl Reply {
    const fn new(status: StatusCode, code: &'static str) -> Self {
        Self { status, code }
    }

    /// The status and code of `error`.
    #[cfg(test)]
    pub(crate) fn of(error: &crate::http::error::ApiError) -> Self {
        Self::new(error.status(), error.code())
    }
}

/// Where an error reply comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ErrorSource {
    /// The HTTP edge, before the router, on every route: a request head over the limits
    /// (`edge/service.rs`), or every connection busy (`edge/mod.rs`).
    Edge,
    /// The edge again: a request body that did not arrive in time (`edge/service.rs`).
    BodyDeadline,
    /// `auth.rs`, on every route that needs the API key: no key, or a change under the
    /// console's cookie without its CSRF token.
    Auth,
    /// The `PathParams` extractor.
    PathParams,
    /// The `QueryParams` extractor.
    QueryParams,
    /// The `JsonBody` extractor.
    JsonBody,
    /// A module upload's body: its content type and size (`modules::upload`).
    ModuleBody,
    /// A stream name from the path (`streams::stream_name`).
    StreamName,
    /// A `limit` out of range (`streams::read_limit`).
    ReadLimit,
    /// A category or type filter of the global log (`all::filtered`).
    LogFilter,
    /// A listing of streams that asks for two things at once, or a `limit` out of range
    /// (`stream_list::listing`).
    StreamListing,
    /// A `Last-Event-ID` that is not a position (`subscribe::subscribe`).
    LastEventId,
    /// A backup asked of a node whose store is PostgreSQL (`backup::backup`).
    BackupHere,
    /// An `Idempotency-Key` that is not a key (`aggregates::command`).
    IdempotencyKey,
    /// A [`PlanError`](cairn_runtime::PlanError) (`plan::plan_failed`).
    Plan,
    /// An upload's check of the history (`ApiError::incompatible_with_history`).
    History,
    /// A command's type that is not a name (`aggregates::command_type`).
    CommandType,
    /// A command id that is not a UUID, or that the command log lacks (`commands.rs`).
    CommandLookup,
    /// No module has the name (`modules.rs`).
    UnknownModule,
    /// No projection has the name (`projections::unknown`).
    UnknownProjection,
    /// A [`StorageError`](cairn_store::StorageError) or a `ReadError`.
    Storage,
    /// An [`AppendError`](cairn_store::AppendError).
    Append,
    /// A [`CallError`](cairn_runtime::CallError): a module that failed, or the host around it
    /// (an upcaster too, on a read: `served.rs`).
    Call,
    /// A [`LoadError`](cairn_runtime::LoadError): an upload refused.
    Load,
    /// The [`CommandError`](cairn_runtime::CommandError)s of `CommandPath::execute`.
    Command,
    /// The [`CommandError`](cairn_runtime::CommandError)s of `CommandPath::state`.
    AggregateState,
    /// A [`QueryError`](cairn_runtime::QueryError) (`projections::query_failed`).
    ProjectionQuery,
    /// A [`ControlError`](cairn_runtime::ControlError): a pause, resume, reset or removal.
    ProjectionControl,
    /// No reactor has the name (`reactors::unknown`).
    UnknownReactor,
    /// A [`ReactorError`](cairn_runtime::ReactorError): what is asked of a reactor.
    ReactorControl,
    /// No event is parked at the position (`reactors::not_parked`).
    NotParked,
    /// A [`GroupError`](cairn_groups::GroupError): what is asked of a consumer group.
    Group,
    /// A [`SinkError`](cairn_sinks::SinkError): what is asked of a sink.
    Sink,
}

use StatusCode as S;

impl ErrorSource {
    /// The replies this source makes itself.
    pub(crate) fn own_replies(self) -> &'static [Reply] {
        match self {
            Self::Edge => {
                const {
                    &[
                        Reply::new(S::URI_TOO_LONG, "uri_too_long"),
                        Reply::new(S::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "too_many_connections"),
                    ]
                }
            }
            Self::BodyDeadline => const { &[Reply::new(S::REQUEST_TIMEOUT, "body_timeout")] },
            Self::Auth => {
                const {
                    &[
                        Reply::new(S::UNAUTHORIZED, "unauthorized"),
                        Reply::new(S::FORBIDDEN, "csrf_refused"),
                    ]
                }
            }
            Self::PathParams => const { &[Reply::new(S::BAD_REQUEST, "invalid_path")] },
            Self::QueryParams | Self::ReadLimit | Self::LogFilter | Self::StreamListing => {
                const { &[Reply::new(S::BAD_REQUEST, "invalid_query")] }
            }
            Self::JsonBody => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "malformed_json"),
                        Reply::new(S::PAYLOAD_TOO_LARGE, "body_too_large"),
                        Reply::new(S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "invalid_body"),
                    ]
                }
            }
            Self::ModuleBody => {
                const {
                    &[
                        Reply::new(S::PAYLOAD_TOO_LARGE, "body_too_large"),
                        Reply::new(S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                    ]
                }
            }
            Self::StreamName => const { &[Reply::new(S::BAD_REQUEST, "invalid_stream")] },
            Self::LastEventId => const { &[Reply::new(S::BAD_REQUEST, "invalid_last_event_id")] },
            Self::BackupHere => const { &[Reply::new(S::CONFLICT, "backup_not_here")] },
            Self::IdempotencyKey => {
                const { &[Reply::new(S::BAD_REQUEST, "invalid_idempotency_key")] }
            }
            Self::UnknownModule => const { &[Reply::new(S::NOT_FOUND, "unknown_module")] },
            Self::Plan => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "not_an_aggregate"),
                        Reply::new(S::BAD_REQUEST, "not_a_projection"),
                        Reply::new(S::BAD_REQUEST, "not_planned"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "host_backstop"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "internal"),
                    ]
                }
            }
            Self::History => const { &[Reply::new(S::CONFLICT, "incompatible_with_history")] },
            Self::CommandType => const { &[Reply::new(S::BAD_REQUEST, "invalid_command_type")] },
            Self::CommandLookup => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "invalid_command_id"),
                        Reply::new(S::NOT_FOUND, "unknown_command"),
                    ]
                }
            }
            Self::UnknownProjection => const { &[Reply::new(S::NOT_FOUND, "unknown_projection")] },
            Self::ProjectionControl => {
                const {
                    &[
                        Reply::new(S::NOT_FOUND, "unknown_projection"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "runs_elsewhere"),
                    ]
                }
            }
            Self::UnknownReactor => const { &[Reply::new(S::NOT_FOUND, "unknown_reactor")] },
            Self::Sink => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "invalid_sink"),
                        Reply::new(S::NOT_FOUND, "unknown_sink"),
                        Reply::new(S::CONFLICT, "sink_exists"),
                        Reply::new(S::BAD_GATEWAY, "target_unreachable"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "internal"),
                    ]
                }
            }
            Self::Group => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "invalid_group_name"),
                        Reply::new(S::BAD_REQUEST, "invalid_member"),
                        Reply::new(S::BAD_REQUEST, "invalid_delivery"),
                        Reply::new(S::BAD_REQUEST, "invalid_group_config"),
                        Reply::new(S::BAD_REQUEST, "invalid_request"),
                        Reply::new(S::NOT_FOUND, "unknown_group"),
                        Reply::new(S::NOT_FOUND, "not_parked"),
                        Reply::new(S::CONFLICT, "group_exists"),
                        Reply::new(S::CONFLICT, "not_in_flight"),
                        Reply::new(S::CONFLICT, "parked_behind"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "group_unavailable"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "runs_elsewhere"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "internal"),
                    ]
                }
            }
            Self::ReactorControl => {
                const {
                    &[
                        Reply::new(S::NOT_FOUND, "unknown_reactor"),
                        Reply::new(S::CONFLICT, "reactor_not_running"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "runs_elsewhere"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "internal"),
                    ]
                }
            }
            Self::NotParked => const { &[Reply::new(S::NOT_FOUND, "not_parked")] },
            Self::Storage => {
                const {
                    &[
                        Reply::new(S::SERVICE_UNAVAILABLE, "unavailable"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "storage_failed"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "storage_failed"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "storage_corrupt"),
                    ]
                }
            }
            Self::Append => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "reserved_stream"),
                        Reply::new(S::CONFLICT, "wrong_expected_version"),
                        Reply::new(S::CONFLICT, "idempotency_conflict"),
                        Reply::new(S::CONFLICT, "event_id_reused"),
                        Reply::new(S::PAYLOAD_TOO_LARGE, "event_too_large"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "no_events"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "too_many_events"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "duplicate_event_id"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "metadata_not_object"),
                    ]
                }
            }
            Self::Call => {
                const {
                    &[
                        Reply::new(S::INTERNAL_SERVER_ERROR, "module_out_of_fuel"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "module_cpu_exceeded"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "module_out_of_memory"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "module_stack_overflow"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "module_trapped"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "module_bad_output"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "internal"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "host_backstop"),
                        Reply::new(S::SERVICE_UNAVAILABLE, "storage_failed"),
                    ]
                }
            }
            Self::Load => {
                const {
                    &[
                        Reply::new(S::BAD_REQUEST, "invalid_module_name"),
                        Reply::new(S::BAD_REQUEST, "invalid_module"),
                        Reply::new(S::BAD_REQUEST, "module_exceeds_limits"),
                        Reply::new(S::BAD_REQUEST, "core_module"),
                        Reply::new(S::BAD_REQUEST, "wrong_world"),
                        Reply::new(S::BAD_REQUEST, "bad_import"),
                        Reply::new(S::BAD_REQUEST, "module_failed"),
                        Reply::new(S::CONFLICT, "name_taken"),
                        Reply::new(S::BAD_REQUEST, "invalid_upgrades"),
                        Reply::new(S::CONFLICT, "category_taken"),
                        Reply::new(S::BAD_REQUEST, "not_a_reactor"),
                        Reply::new(S::INTERNAL_SERVER_ERROR, "runtime_failed"),
                    ]
                }
            }
            Self::Command => {
                const {
                    &[
                        Reply::new(S::NOT_FOUND, "unknown_module"),
                        Reply::new(S::BAD_REQUEST, "invalid_name"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "rejected"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "invalid_command"),
                        // A conflict is one of these four (`CommandPath::append_failed`).
                        Reply::new(S::CONFLICT, "wrong_expected_version"),
                        Reply::new(S::CONFLICT, "idempotency_conflict"),
                        Reply::new(S::CONFLICT, "event_id_reused"),
                        Reply::new(S::CONFLICT, "command_id_reused"),
                    ]
                }
            }
            Self::AggregateState => {
                const {
                    &[
                        Reply::new(S::NOT_FOUND, "unknown_module"),
                        Reply::new(S::BAD_REQUEST, "invalid_name"),
                    ]
                }
            }
            Self::ProjectionQuery => {
                const {
                    &[
                        Reply::new(S::NOT_FOUND, "unknown_projection"),
                        Reply::new(S::UNPROCESSABLE_ENTITY, "query_refused"),
                    ]
                }
            }
        }
    }

    /// The sources whose replies this one passes on, as a `From` impl that delegates does.
    pub(crate) fn passes_on(self) -> &'static [ErrorSource] {
        match self {
            Self::JsonBody | Self::ModuleBody => &[Self::BodyDeadline],
            Self::Append
            | Self::Load
            | Self::ProjectionControl
            | Self::ReactorControl
            | Self::Group => &[Self::Storage],
            Self::Sink => &[Self::Group, Self::Storage],
            Self::Plan => &[Self::Load, Self::Storage],
            Self::Command | Self::AggregateState | Self::ProjectionQuery => {
                &[Self::Call, Self::Storage]
            }
            Self::Edge
            | Self::BodyDeadline
            | Self::Auth
            | Self::PathParams
            | Self::QueryParams
            | Self::StreamName
            | Self::ReadLimit
            | Self::LogFilter
            | Self::StreamListing
            | Self::LastEventId
            | Self::BackupHere
            | Self::IdempotencyKey
            | Self::CommandType
            | Self::CommandLookup
            | Self::History
            | Self::UnknownModule
            | Self::UnknownProjection
            | Self::UnknownReactor
            | Self::NotParked
            | Self::Storage
            | Self::Call => &[],
        }
    }

    /// Every reply of this source: its own and those it passes on.
    pub(crate) fn replies(self) -> Vec<Reply> {
        let mut replies = self.own_replies().to_vec();
        for source in self.passes_on() {
            replies.extend(source.replies());
        }
        replies.sort();
        replies.dedup();
        replies
    }
}
