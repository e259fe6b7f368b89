//! The conformance suite: one behavioural contract per port, written once as `pub async fn`
//! cases, run against every adapter. The macros expand the cases into named `#[tokio::test]`s,
//! so a failure names both the case and the backend:
//!
//! ```ignore
//! mod sqlite_memory {
//!     alleato_core::database_conformance!(std::sync::Arc::new(SqliteDatabase::memory().await.unwrap()));
//! }
//! ```
//!
//! Each factory expression is evaluated once per test, so every case gets a fresh store. Cases
//! take the port as a trait object (`Arc<dyn Port>`), so a wired stack or a decorated adapter
//! runs the same suite; what a backend may do differently it declares (the key-value store's
//! [`KvCapabilities`](crate::ports::KvCapabilities): minimum TTL, consistency), and the cases
//! read it instead of being forked.

pub mod counters;
pub mod database;
pub mod kv;
pub mod model;
pub mod objects;
pub mod streams;
pub mod streams_shared;
pub mod users;

/// Expands `cases` of `module` into `#[tokio::test]`s, each over a fresh `$make`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($module:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let port = $make;
                $crate::testkit::$module::$case(port).await;
            }
        )*
    };
    // Every case in turn, in the caller's async context, each over a fresh `$make`: for checks
    // that need the whole workload (e.g. the query plans of everything an adapter runs).
    (@sequence $module:ident, $make:expr, [$($case:ident),* $(,)?]) => {{
        $(
            let port = $make;
            $crate::testkit::$module::$case(port).await;
        )*
    }};
    // Every case at once, each over a fresh `$make`, in the caller's async context: for a
    // backend whose cases mostly wait (Workers KV's 60 s minimum TTL), so the waits overlap.
    (@together $module:ident, $make:expr, [$($case:ident),* $(,)?]) => {{
        ::tokio::join!($( $crate::testkit::$module::$case($make) ),*);
    }};
}

/// The database suite, over a factory of `Arc<T>` where `T` implements every database port.
///
/// `database_conformance!(@sequence make)` is instead an expression that runs every case in
/// turn inside the caller's async function.
#[macro_export]
macro_rules! database_conformance {
    (@sequence $make:expr) => {
        $crate::database_conformance!(@cases @sequence, $make)
    };
    (@cases $(@$mode:ident)?, $make:expr) => {
        $crate::__conformance_cases! {
            $(@$mode)? database,
            $make,
            [
                users_round_trip,
                logouts_are_recorded_for_every_instance_to_read,
                emails_are_unique,
                updating_a_missing_user_is_not_found,
                a_deleted_user_reads_as_absent,
                deleting_a_user_deletes_everything_it_owns,
                chats_round_trip,
                duplicate_chat_ids_conflict,
                chats_list_newest_first_and_page_by_cursor,
                chat_cursors_must_name_own_chat,
                messages_keep_parts_and_order,
                message_batches_are_atomic,
                messages_need_an_existing_chat,
                deleting_messages_from_a_time_removes_their_votes,
                generation_quota_counts_starts_per_user_in_the_window,
                generation_quota_holds_under_concurrent_starts,
                titles_are_set_only_over_the_expected_title,
                a_send_reads_its_chat_and_message_together,
                a_generation_start_writes_everything_or_nothing,
                a_generation_start_can_regenerate_from_a_message,
                a_generation_finish_stores_answer_and_title_together,
                votes_upsert_and_stay_in_their_chat,
                deleting_a_chat_deletes_its_messages_votes_and_streams,
                streams_round_trip,
                documents_keep_versions,
                deleting_later_versions_removes_their_suggestions,
                suggestions_need_an_existing_version,
                files_round_trip_and_detach_from_deleted_chats,
                stats_count_real_rows,
                ping_answers,
                imported_rows_read_back_whole_through_every_port,
                export_reads_every_row_whole_in_key_order,
                export_ranges_are_bounded_at_both_ends,
                imports_never_overwrite_and_skip_what_exists,
                overwrites_replace_rows_and_deletes_take_what_goes_with_them,
                an_import_is_all_or_nothing,
                the_schema_is_current_and_the_store_knows_itself,
            ]
        }
    };
    ($make:expr) => {
        $crate::database_conformance!(@cases, $make);
    };
}

/// The streams suite across instances, over a factory of
/// [`testkit::streams_shared::Shared`](crate::testkit::streams_shared::Shared): two handles on
/// one store, held to the store's declared `StreamCapabilities`.
#[macro_export]
macro_rules! streams_shared_conformance {
    ($make:expr) => {
        $crate::__conformance_cases!(
            streams_shared,
            $make,
            [
                a_stream_created_here_is_seen_there_in_the_declared_time,
                a_follower_there_gets_every_entry_and_the_end,
                a_stop_asked_there_reaches_the_writer_in_the_declared_time,
            ]
        );
    };
}

/// The users suite, over a factory of `Arc<T>` where `T: UserStore` (the database suite runs
/// these cases too; this runs them on what serves users alone, such as `CachedUsers`).
#[macro_export]
macro_rules! users_conformance {
    ($make:expr) => {
        $crate::__conformance_cases! {
            users,
            $make,
            [
                users_round_trip,
                emails_are_unique,
                updating_a_missing_user_is_not_found,
                a_deleted_user_reads_as_absent,
                logouts_are_recorded_for_every_instance_to_read,
            ]
        }
    };
}

/// The key-value suite, over a factory of `Arc<T>` where `T: KeyValueStore` (cases take it as
/// `Arc<dyn KeyValueStore>`, so a wired or decorated store runs them too).
///
/// `kv_conformance!(@together make)` is instead an expression that runs every case at once
/// inside the caller's async function (for stores whose minimum TTL makes the cases slow).
#[macro_export]
macro_rules! kv_conformance {
    (@together $make:expr) => {
        $crate::kv_conformance!(@cases @together, $make)
    };
    ($make:expr) => {
        $crate::kv_conformance!(@cases, $make);
    };
    (@cases $(@$mode:ident)?, $make:expr) => {
        $crate::__conformance_cases! {
            $(@$mode)? kv,
            $make,
            [
                set_get_delete,
                missing_keys_read_as_none,
                set_replaces_value_and_ttl,
                keys_expire_after_their_ttl,
                a_value_read_with_its_ttl_says_no_more_than_is_left,
                oversized_keys_are_rejected,
                binary_values_round_trip,
                keys_list_the_live_keys_under_a_prefix,
                ping_answers,
            ]
        }
    };
}

/// The counters suite, over a factory of `Arc<T>` where `T: Counters`.
#[macro_export]
macro_rules! counters_conformance {
    ($make:expr) => {
        $crate::__conformance_cases!(
            counters,
            $make,
            [
                increments_count_within_a_window,
                increment_windows_reset,
                concurrent_increments_are_distinct,
                adding_many_at_once_counts_like_increments,
                oversized_keys_are_rejected,
                ping_answers,
            ]
        );
    };
}

/// The object-storage suite, over a factory of `Arc<T>` where `T: ObjectStorage`.
#[macro_export]
macro_rules! objects_conformance {
    ($make:expr) => {
        $crate::__conformance_cases!(
            objects,
            $make,
            [
                put_get_delete,
                put_never_overwrites,
                missing_objects_read_as_none,
                large_objects_round_trip,
                listing_finds_what_is_under_a_prefix,
                ping_answers,
            ]
        );
    };
}

/// The streams suite, over a factory of `Arc<T>` where `T: StreamStore`.
#[macro_export]
macro_rules! streams_conformance {
    ($make:expr) => {
        $crate::__conformance_cases!(
            streams,
            $make,
            [
                create_append_read,
                appending_many_is_appending_each_in_order,
                finished_streams_take_no_more,
                missing_streams,
                streams_expire,
                finished_streams_are_kept_only_as_long_as_asked,
                waiting_wakes_on_append_and_finish,
                followers_get_every_entry_once_in_order,
                stop_requests_wake_the_writer_and_show,
                ping_answers,
            ]
        );
    };
}

/// The language-model suite, over a factory of `ModelUnderTest`.
#[macro_export]
macro_rules! model_conformance {
    ($make:expr) => {
        $crate::__conformance_cases!(
            model,
            $make,
            [
                a_reply_streams_text_and_ends,
                a_stream_dropped_early_leaves_the_model_usable,
                concurrent_requests_each_get_a_whole_answer,
                it_describes_itself,
            ]
        );
    };
}

/// Every `pub async fn` case of a suite module is listed in its macro: a case written but not
/// wired in would otherwise never run.
#[cfg(test)]
mod guard {
    fn cases(module_source: &str) -> Vec<&str> {
        module_source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect()
    }

    #[test]
    fn every_case_is_wired_into_its_suite() {
        let macros = include_str!("mod.rs");
        let suites = [
            ("database", include_str!("database.rs"), "macro_rules! database_conformance"),
            ("kv", include_str!("kv.rs"), "macro_rules! kv_conformance"),
            ("counters", include_str!("counters.rs"), "macro_rules! counters_conformance"),
            ("objects", include_str!("objects.rs"), "macro_rules! objects_conformance"),
            ("streams", include_str!("streams.rs"), "macro_rules! streams_conformance"),
            ("model", include_str!("model.rs"), "macro_rules! model_conformance"),
            ("users", include_str!("users.rs"), "macro_rules! users_conformance"),
            ("streams_shared", include_str!("streams_shared.rs"), "macro_rules! streams_shared_conformance"),
        ];
        for (name, source, macro_start) in suites {
            let start = macros.find(macro_start).unwrap_or_else(|| panic!("{name}: no macro"));
            let end = macros[start..].find("\n}\n").map_or(macros.len(), |e| start + e);
            let listed = &macros[start..end];
            let cases = cases(source);
            assert!(!cases.is_empty(), "{name}: no cases found");
            for case in cases {
                assert!(
                    listed.lines().any(|l| l.trim().trim_end_matches(',') == case),
                    "{name}: case `{case}` is not in {macro_start}"
                );
            }
        }
    }
}
