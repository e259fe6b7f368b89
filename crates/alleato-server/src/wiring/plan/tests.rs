use super::*;

fn config() -> Config {
    Config { data_dir: PathBuf::from("/d"), ..Config::default() }
}

#[test]
fn nothing_configured_means_embedded() {
    let plan = plan(&config());
    assert_eq!(plan.database.backend, DatabaseBackend::Sqlite(PathBuf::from("/d/alleato.sqlite3")));
    assert_eq!(plan.storage.backend, StorageBackend::Local(PathBuf::from("/d/objects")));
    assert_eq!(plan.kv.backend, KvBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
    assert_eq!(plan.counters.backend, CountersBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
    assert_eq!(plan.streams.backend, StreamsBackend::Embedded(PathBuf::from("/d/streams.sqlite3")));
    assert!(plan.database.reason.contains("embedded default"));
}

#[test]
fn per_service_flag_beats_use_cloudflare_beats_settings() {
    let mut c = config();
    c.cloudflare.use_cloudflare = Some(true);
    c.cloudflare.use_cloudflare_storage = Some(false);
    c.cloudflare.api_token = Some(Secret::new("token"));
    c.redis.url = Some(Secret::new("redis://x"));
    let plan = plan(&c);
    assert_eq!(plan.database, Choice::new(DatabaseBackend::D1, "USE_CLOUDFLARE=true"));
    assert_eq!(plan.storage, Choice::new(StorageBackend::S3, "USE_CLOUDFLARE_STORAGE=false"));
    assert_eq!(plan.kv.backend, KvBackend::WorkersKv, "USE_CLOUDFLARE outranks REDIS_URL");
    assert_eq!(plan.counters.backend, CountersBackend::D1, "beside Workers KV, counters are in D1");
    assert_eq!(plan.streams.backend, StreamsBackend::WorkersKv);
}

#[test]
fn cloudflare_without_credentials_runs_on_local_stand_ins() {
    let mut c = config();
    c.cloudflare.use_cloudflare = Some(true);
    let p = plan(&c);
    assert_eq!(p.database.backend, DatabaseBackend::D1Local(PathBuf::from("/d/d1.sqlite3")));
    assert_eq!(p.storage.backend, StorageBackend::R2Local(PathBuf::from("/d/r2")));
    assert_eq!(p.kv.backend, KvBackend::WorkersKvLocal(PathBuf::from("/d/workers-kv.sqlite3")));
    assert_eq!(p.counters.backend, CountersBackend::D1Local(PathBuf::from("/d/d1.sqlite3")));
    assert_eq!(p.streams.backend, StreamsBackend::WorkersKvLocal(PathBuf::from("/d/workers-kv.sqlite3")));
    assert!(p.database.reason.ends_with("no CLOUDFLARE_API_TOKEN: local stand-in"), "{}", p.database.reason);
    assert!(p.storage.reason.ends_with("no R2_ACCESS_KEY_ID: local stand-in"), "{}", p.storage.reason);
}

#[test]
fn the_streams_flag_moves_streams_only() {
    let mut c = config();
    c.cloudflare.api_token = Some(Secret::new("token"));
    c.redis.url = Some(Secret::new("redis://x"));
    c.cloudflare.use_cloudflare_streams = Some(true);
    let p = plan(&c);
    assert_eq!(p.streams, Choice::new(StreamsBackend::WorkersKv, "USE_CLOUDFLARE_STREAMS=true"));
    assert_eq!((p.kv.backend, p.counters.backend), (KvBackend::Redis, CountersBackend::Redis));
    c.redis.url = None;
    c.cloudflare.use_cloudflare_streams = Some(false);
    let p = plan(&c);
    assert_eq!(p.streams.backend, StreamsBackend::Redis, "false asks for the traditional backend");
    assert_eq!(p.kv.backend, KvBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
}

#[test]
fn connection_settings_pick_the_traditional_backend() {
    let mut c = config();
    c.database.url = Some(Secret::new("postgres://db"));
    c.redis.url = Some(Secret::new("redis://r"));
    let p = plan(&c);
    assert_eq!(p.database.backend, DatabaseBackend::Postgres);
    assert_eq!((p.kv.backend, p.streams.backend), (KvBackend::Redis, StreamsBackend::Redis));
    c.database.url = Some(Secret::new("sqlite:///tmp/x.sqlite3"));
    assert_eq!(plan(&c).database.backend, DatabaseBackend::Sqlite(PathBuf::from("/tmp/x.sqlite3")));
}

#[test]
fn ephemeral_wins() {
    let mut c = config();
    c.ephemeral = true;
    c.cloudflare.use_cloudflare = Some(true);
    let p = plan(&c);
    assert_eq!(
        (p.database.backend, p.storage.backend, p.kv.backend, p.counters.backend, p.streams.backend),
        (
            DatabaseBackend::Memory,
            StorageBackend::Memory,
            KvBackend::Memory,
            CountersBackend::Memory,
            StreamsBackend::Memory
        )
    );
}

/// The label is the first word of the description, so the table and the metrics agree.
#[test]
fn every_label_is_the_first_word_of_its_description() {
    let path = || PathBuf::from("/srv/alleato/x");
    let rows: Vec<(String, &str)> = vec![
        (DatabaseBackend::Memory.to_string(), DatabaseBackend::Memory.label()),
        (DatabaseBackend::Sqlite(path()).to_string(), DatabaseBackend::Sqlite(path()).label()),
        (DatabaseBackend::Postgres.to_string(), DatabaseBackend::Postgres.label()),
        (DatabaseBackend::D1.to_string(), DatabaseBackend::D1.label()),
        (DatabaseBackend::D1Local(path()).to_string(), DatabaseBackend::D1Local(path()).label()),
        (StorageBackend::Memory.to_string(), StorageBackend::Memory.label()),
        (StorageBackend::Local(path()).to_string(), StorageBackend::Local(path()).label()),
        (StorageBackend::S3.to_string(), StorageBackend::S3.label()),
        (StorageBackend::R2.to_string(), StorageBackend::R2.label()),
        (StorageBackend::R2Local(path()).to_string(), StorageBackend::R2Local(path()).label()),
        (KvBackend::Memory.to_string(), KvBackend::Memory.label()),
        (KvBackend::Embedded(path()).to_string(), KvBackend::Embedded(path()).label()),
        (KvBackend::Redis.to_string(), KvBackend::Redis.label()),
        (KvBackend::WorkersKv.to_string(), KvBackend::WorkersKv.label()),
        (KvBackend::WorkersKvLocal(path()).to_string(), KvBackend::WorkersKvLocal(path()).label()),
        (CountersBackend::Memory.to_string(), CountersBackend::Memory.label()),
        (CountersBackend::Embedded(path()).to_string(), CountersBackend::Embedded(path()).label()),
        (CountersBackend::Redis.to_string(), CountersBackend::Redis.label()),
        (CountersBackend::D1.to_string(), CountersBackend::D1.label()),
        (CountersBackend::D1Local(path()).to_string(), CountersBackend::D1Local(path()).label()),
        (StreamsBackend::Memory.to_string(), StreamsBackend::Memory.label()),
        (StreamsBackend::Embedded(path()).to_string(), StreamsBackend::Embedded(path()).label()),
        (StreamsBackend::Redis.to_string(), StreamsBackend::Redis.label()),
        (StreamsBackend::WorkersKv.to_string(), StreamsBackend::WorkersKv.label()),
        (StreamsBackend::WorkersKvLocal(path()).to_string(), StreamsBackend::WorkersKvLocal(path()).label()),
    ];
    for (description, label) in rows {
        assert_eq!(description.split([' ', '(']).next(), Some(label), "{description}");
    }
}
