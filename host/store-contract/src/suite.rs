//! [`contract_suite!`](crate::contract_suite): the whole suite as tests of one backend, one
//! test per suite function. A unit test (`suite/completeness.rs`) reads the suite's sources
//! and fails if a suite function is missing from the macro's list.

/// Expands to the whole contract suite as tests of one [`Backend`](crate::Backend): one
/// `#[tokio::test]` (two worker threads) per async suite function, and a plain `#[test]` for
/// the model test, which builds its own runtime. Tests are grouped in modules named as the
/// suite's, so `event_log::races::free_running_writers_never_share_a_version` names the
/// same test in the suite and in the output of `cargo test`.
///
/// Invoke it once in an integration test of the backend's crate, which needs `tokio` (with
/// `macros` and `rt-multi-thread`) among its dependencies:
///
/// ```text
/// cairn_store_contract::contract_suite!(RedbBackend);
/// ```
#[macro_export]
macro_rules! contract_suite {
    // A module of the suite with modules of tests, such as `event_log`.
    (@async $module:ident { $($sub:ident [$($name:ident),* $(,)?])* }) => {
        mod $module {
            $(
                mod $sub {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $name() {
                            $crate::$module::$sub::$name::<super::super::ContractBackend>()
                                .await;
                        }
                    )*
                }
            )*
        }
    };
    // A module of the suite holding tests itself, such as `snapshots`.
    (@async $module:ident [$($name:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::$module::$name::<super::ContractBackend>().await;
                }
            )*
        }
    };
    // A module of tests that build their own runtime: the model test.
    (@sync $module:ident [$($name:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $name() {
                    $crate::$module::$name::<super::ContractBackend>();
                }
            )*
        }
    };
    ($backend:ty) => {
        /// The backend the contract suite runs on.
        type ContractBackend = $backend;

        $crate::contract_suite!(@async event_log {
            byte_budgets [
                a_stream_of_large_events_pages_by_bytes_forward_and_backward,
                an_event_larger_than_the_budget_is_returned_alone_and_a_count_cut_is_not_truncated,
                the_log_pages_by_bytes_with_and_without_filters,
                reads_are_bounded_by_default,
                versions_are_read_whole_past_the_byte_budget_one_stream_or_many,
            ]
            durability [
                events_read_back_identically_after_reopening,
                a_hundred_thousand_streams_are_created_and_read_back,
            ]
            head [
                a_head_watcher_wakes_on_append_and_not_before,
                a_closed_store_releases_head_waiters,
            ]
            idempotency [
                an_exact_retry_returns_the_original_outcome_before_and_after_reopening,
                an_inexact_retry_is_a_conflict_and_stores_nothing,
                a_stored_id_with_other_content_is_refused_and_the_stored_event_is_kept,
                concurrent_identical_appends_store_the_events_once,
            ]
            keyed [
                the_same_key_gets_the_original_outcome_even_after_a_restart,
                a_recorded_key_answers_before_the_events_and_a_new_key_does_not_excuse_a_reused_id,
                a_key_belongs_to_its_stream,
                a_refused_keyed_append_records_nothing,
                racing_sends_of_one_key_append_once,
            ]
            listing [
                streams_are_listed_by_prefix_in_pages_both_ways,
            ]
            races [
                lockstep_rounds_have_one_winner_and_losers_see_the_new_version,
                free_running_writers_never_share_a_version,
                a_conflict_never_fails_its_neighbours_in_a_batch,
            ]
            reads [
                streams_read_forward_and_backward_from_a_version_with_a_limit,
                the_global_log_filters_by_category_and_type_and_says_how_far_it_looked,
                a_scan_limit_bounds_the_work_of_a_filtered_read,
            ]
            refusals [
                refused_appends_store_nothing,
            ]
        });
        $crate::contract_suite!(@async command_log [
            an_appended_command_is_kept_with_where_its_events_landed,
            a_refused_or_recognised_append_writes_no_entry,
            an_entry_that_appended_nothing_gives_way_and_an_appended_one_never_does,
            the_log_pages_in_id_order_with_every_entry_once,
            a_failed_command_append_leaves_neither_events_nor_entry,
        ]);
        $crate::contract_suite!(@async snapshots [
            snapshots_are_kept_per_key_and_never_change_event_reads,
            a_snapshot_of_a_missing_stream_is_refused,
        ]);
        $crate::contract_suite!(@async modules [
            new_bytes_make_a_new_version_and_the_same_bytes_change_nothing,
            a_new_version_is_stamped_with_the_time_it_was_kept,
            a_name_keeps_the_kind_it_was_first_kept_with,
            of_racing_puts_of_one_name_exactly_one_kind_wins,
        ]);
        $crate::contract_suite!(@async removal [
            a_removed_module_leaves_the_list_with_its_state_and_models,
            a_removed_module_comes_back_as_a_new_version,
            a_removed_aggregate_keeps_its_kind_and_a_removed_projection_frees_its_name,
        ]);
        $crate::contract_suite!(@async read_models [
            writes_and_checkpoint_commit_together_and_read_back,
            a_checkpoint_that_does_not_move_ahead_is_refused_and_nothing_is_written,
            an_amendment_writes_entries_and_leaves_the_checkpoint,
            a_replacement_leaves_exactly_its_writes_at_its_checkpoint,
            models_are_kept_apart_dropped_whole_and_survive_a_reopen,
            a_module_state_replaces_the_last_and_drops_the_models_it_lets_go_at_once,
        ]);
        $crate::contract_suite!(@async faults [
            a_full_storage_fails_appends_acknowledges_none_and_the_store_reopens_consistent,
            storage_failing_at_a_random_write_never_loses_an_acknowledged_append,
        ]);
        $crate::contract_suite!(@sync model [
            store_behaves_like_the_model,
        ]);
    };
}

#[cfg(test)]
mod completeness;
