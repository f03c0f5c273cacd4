//! How a service is put together. A service declares what is its own in a [`Manifest`]
//! (name, the topics it publishes and consumes, its admin prefix) and in a few calls on a
//! [`ServiceBuilder`] (its consumers' handlers, its due work, its routes); the builder wires
//! the rest the same way for every service: the migrated database, Redis, the sequencer,
//! the outbox relay, the consumer runtime, the dead-letter routes, health, metrics, the
//! OpenAPI document and the shutdown sequence. Each `startup.rs` is then a short
//! declaration, and the binary and the tests start any service through [`AnyService`].

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest};
use actix_web::web;
use prometheus::Registry;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use utoipa_actix_web::scope::Scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::admission::Admission;
use crate::auth::Authenticator;
use crate::background::Background;
use crate::background::RequestLoad;
use crate::config::{BaseSettings, ConfigError, Layers, ServiceDefaults, ServiceSettings};
use crate::consumer::dead_letters::{self, DeadLetterAdmin};
use crate::consumer::{ConsumerRuntime, Handlers};
use crate::db::Pools;
use crate::due_work::{DueWork, DueWorkRunner, DueWorkSettings, Periodic, Waker};
use crate::health::{DatabaseCheck, HealthChecks, KafkaCheck, RedisCheck};
use crate::http::{ServerParts, bind, openapi_skeleton, serve};
use crate::outbox::OutboxRelay;
use crate::outbox::parked::ParkedEvents;
use crate::redis::RedisHandle;
use crate::retry::RetryPolicy;
use crate::sequencer::Sequencer;
use crate::startup::StartupError;

/// What a service is, apart from its code: everything the builder needs to wire it.
#[derive(Debug)]
pub struct Manifest {
    /// Its name (also its producer id, consumer group and metrics namespace) and default port.
    pub defaults: ServiceDefaults,
    /// The OpenAPI document's title and description.
    pub title: &'static str,
    pub summary: &'static str,
    /// The topics its outbox relay publishes to; none, no relay.
    pub publishes: &'static [&'static str],
    /// The topics its consumer reads; none, no consumer and no dead letters.
    pub consumes: &'static [&'static str],
    /// Where its admin routes live; the dead-letter routes are mounted there.
    pub admin_prefix: &'static str,
}

impl Manifest {
    pub fn name(&self) -> &'static str {
        self.defaults.name
    }

    /// The OpenAPI document of `routes` (what the service hands [`ServiceBuilder::serve`])
    /// as the service serves it with a broker configured, dead-letter and parked-event
    /// routes included; built without a database or a server, so the edge can merge the
    /// services' documents.
    pub fn document<F>(&self, routes: F) -> utoipa::openapi::OpenApi
    where
        F: Fn(&mut ServiceConfig, &AdminRoutes),
    {
        crate::http::document(openapi_skeleton(self.title, self.summary), |cfg| {
            AdminRoutes::new(
                self.admin_prefix,
                !self.consumes.is_empty(),
                !self.publishes.is_empty(),
            )
            .mount_with(cfg, &routes);
        })
    }

    fn metrics_namespace(&self) -> String {
        self.name().replace('-', "_")
    }
}

/// Wires one service. Created connected and migrated ([`ServiceBuilder::connect`]); the
/// service adds its own parts; [`ServiceBuilder::serve`] binds and hands back the
/// [`Application`].
pub struct ServiceBuilder {
    manifest: &'static Manifest,
    base: BaseSettings,
    pools: Pools,
    registry: Registry,
    authenticator: Authenticator,
    health: HealthChecks,
    background: Background,
    sequencer: Option<Arc<dyn Sequencer>>,
    dead_letters: Option<web::Data<DeadLetterAdmin>>,
    /// Set when the relay runs: the admin routes over events it parked.
    parked_events: Option<web::Data<ParkedEvents>>,
    admission_priority: Vec<(actix_web::http::Method, &'static str)>,
    /// The requests in flight, counted by admission, which background work gives way to.
    requests: RequestLoad,
}

impl ServiceBuilder {
    /// Connects to the database and migrates it (unless `database.migrate_on_start` is off),
    /// and with a broker configured starts the outbox relay. Nothing else is reached for:
    /// a service accepts work with only its database.
    pub async fn connect<M: MigratorTrait>(
        manifest: &'static Manifest,
        base: &BaseSettings,
    ) -> Result<Self, StartupError> {
        let pools = crate::db::connect_pools(&base.database).await?;
        if base.database.migrate_on_start {
            crate::db::migrate::<M>(&pools.requests).await?;
        }
        let registry = Registry::new();
        let mut health = HealthChecks::default().with(DatabaseCheck(pools.requests.clone()));
        let mut background = Background::new();
        let mut parked_events = None;
        let requests = RequestLoad::new(base.http.yield_background_above);
        let kafka = &base.kafka;
        if kafka.is_configured() {
            let topics: Vec<&'static str> = manifest
                .publishes
                .iter()
                .chain(manifest.consumes)
                .copied()
                .collect();
            kafka.ensure_topics_in_background(&topics);
            health = health.with_advisory(KafkaCheck::new(kafka)?);
            if !manifest.publishes.is_empty() {
                background.relay(
                    OutboxRelay::new(
                        pools.background.clone(),
                        kafka,
                        manifest.name(),
                        base.outbox.clone(),
                        &registry,
                    )?
                    .giving_way_to(requests.clone()),
                );
                parked_events = Some(web::Data::new(ParkedEvents::new(pools.requests.clone())));
            }
        } else {
            tracing::warn!("no broker configured (kafka.brokers): events stay in the outbox");
        }
        // Every service honours revocations, wherever the token was issued.
        let revocations = crate::auth::Revocations::new(
            RedisHandle::new(&base.redis)?,
            std::time::Duration::from_millis(base.auth.revocation_cache_ms),
        );
        Ok(Self {
            manifest,
            authenticator: Authenticator::new(&base.auth).with_revocations(revocations),
            base: base.clone(),
            pools,
            admission_priority: Vec::new(),
            registry,
            health,
            background,
            sequencer: None,
            dead_letters: None,
            parked_events,
            requests,
        })
    }

    /// The pool for requests.
    pub fn db(&self) -> DatabaseConnection {
        self.pools.requests.clone()
    }

    /// The pool for the service's own background work (its due work, its workers): kept
    /// apart, so a backlog never takes the connections requests need.
    pub fn background_db(&self) -> DatabaseConnection {
        self.pools.background.clone()
    }

    /// Marks a route as priority: under overload it is refused last (see
    /// [`crate::admission`]). Order placement is one.
    pub fn prioritise(&mut self, method: actix_web::http::Method, path: &'static str) {
        self.admission_priority.push((method, path));
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// The one sequencer of this service (Redis, or in-process without `redis.url`): the
    /// consumer, the due work and the routes must all take the same per-key leases.
    pub fn sequencer(&mut self) -> Result<Arc<dyn Sequencer>, StartupError> {
        if let Some(sequencer) = &self.sequencer {
            return Ok(sequencer.clone());
        }
        let sequencer = crate::sequencer::from_settings(
            &self.base.redis,
            &self.base.sequencer,
            self.manifest.name(),
        )?;
        self.sequencer = Some(sequencer.clone());
        Ok(sequencer)
    }

    /// Redis for caching, when `redis.url` is set. It is reported in readiness as advisory
    /// (`degraded` while down, never "not ready"): a cache must not take the service down.
    pub fn redis(&mut self) -> Result<Option<RedisHandle>, StartupError> {
        let redis = RedisHandle::new(&self.base.redis)?;
        if let Some(redis) = &redis {
            let health = std::mem::take(&mut self.health);
            self.health = health.with_advisory(RedisCheck(redis.clone()));
        }
        Ok(redis)
    }

    /// Starts the consumer of the manifest's `consumes` topics with `handlers`, and mounts
    /// its dead-letter routes under the admin prefix. Without a broker, nothing is consumed.
    pub fn consume(&mut self, handlers: Handlers) -> Result<(), StartupError> {
        self.consume_as(self.manifest.name(), handlers)
    }

    /// [`ServiceBuilder::consume`] in the consumer group `group`: a projection that can be
    /// rebuilt names its group after its generation, so a new one reads every topic from
    /// the start.
    pub fn consume_as(&mut self, group: &str, handlers: Handlers) -> Result<(), StartupError> {
        let kafka = self.base.kafka.clone();
        if !kafka.is_configured() || self.manifest.consumes.is_empty() {
            return Ok(());
        }
        let sequencer = self.sequencer()?;
        let consumer = ConsumerRuntime::new(
            &kafka,
            group,
            self.manifest.consumes,
            self.pools.background.clone(),
            handlers,
            sequencer,
            &self.registry,
        )
        .with_settings(self.base.consumer.clone())
        .giving_way_to(self.requests.clone())
        .start()?;
        self.background.consumer(consumer);
        let waiting = dead_letters::WaitingGauges::new(&self.registry)?;
        let (db, group) = (self.pools.background.clone(), group.to_owned());
        let every = Duration::from_millis(self.base.consumer.readings_interval_ms);
        self.background
            .every("dead letters and held events", every, move || {
                let (waiting, db, group) = (waiting.clone(), db.clone(), group.clone());
                async move { waiting.read(&db, &group).await }
            });
        self.dead_letters = Some(web::Data::new(DeadLetterAdmin::new(
            self.pools.requests.clone(),
            &kafka,
            &format!("{}-dead-letters", self.manifest.name()),
        )?));
        Ok(())
    }

    /// Runs `work` on a due-work runner (see [`crate::due_work`]); the waker lets a commit
    /// wake it rather than wait for its poll.
    pub fn due_work(
        &mut self,
        name: &'static str,
        work: Arc<dyn DueWork>,
        settings: DueWorkSettings,
    ) -> Waker {
        let runner = DueWorkRunner::new(self.pools.background.clone(), work, settings)
            .giving_way_to(self.requests.clone());
        let waker = runner.waker();
        self.background.spawn(name, |stop| runner.run(stop));
        waker
    }

    /// Takes a reading on this instance every `every` (see [`Background::every`]).
    pub fn every_instance<F, Fut>(&mut self, name: &'static str, every: Duration, read: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.every(name, every, read);
    }

    /// Runs a periodic task once a round across all instances; a failed round is tried
    /// again under `retry`.
    pub async fn periodic<F, Fut>(
        &mut self,
        name: &'static str,
        task: Periodic<F>,
        retry: RetryPolicy,
    ) -> Result<Waker, StartupError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        task.start_owing(&self.pools.background).await?;
        let settings = task.settings(retry);
        Ok(self.due_work(name, Arc::new(task), settings))
    }

    /// Binds `http.host:http.port` (port 0: any free port) and serves `routes` inside the
    /// common shell. `routes` gets the admin scope (with the dead-letter routes in it) to add
    /// the service's admin routes to; if it does not mount it, the builder does.
    pub fn serve<F>(self, routes: F) -> Result<Application, StartupError>
    where
        F: Fn(&mut ServiceConfig, &AdminRoutes) + Send + Clone + 'static,
    {
        let listener = bind(&self.base.http)?;
        let port = listener.local_addr()?.port();
        let manifest = self.manifest;
        let http = &self.base.http;
        let admission = self.admission_priority.into_iter().fold(
            Admission::new(
                http.max_in_flight,
                http.priority_reserve,
                self.requests.clone(),
            )
            .with_sustained_limit(
                http.sustained_in_flight,
                std::time::Duration::from_millis(http.overload_grace_ms),
            )
            .with_rate_limit(http.rate_limit, self.authenticator.clone()),
            |admission, (method, path)| admission.prioritise(method, path),
        );
        let parts = ServerParts {
            http: self.base.http.clone(),
            openapi: openapi_skeleton(manifest.title, manifest.summary),
            admission,
            authenticator: self.authenticator,
            health: self.health,
            metrics_registry: self.registry,
            metrics_namespace: manifest.metrics_namespace(),
        };
        let dead_letters = self.dead_letters;
        let parked_events = self.parked_events;
        let server = serve(listener, parts, move |cfg| {
            if let Some(dead_letters) = &dead_letters {
                cfg.app_data(dead_letters.clone());
            }
            if let Some(parked_events) = &parked_events {
                cfg.app_data(parked_events.clone());
            }
            let admin = AdminRoutes::new(
                manifest.admin_prefix,
                dead_letters.is_some(),
                parked_events.is_some(),
            );
            admin.mount_with(cfg, &routes);
        })?;
        Ok(Application {
            port,
            server,
            pools: self.pools,
            background: self.background,
            grace: Duration::from_secs(self.base.http.shutdown_grace_seconds),
        })
    }
}

/// The service's admin scope, as the builder hands it to the routes.
pub struct AdminRoutes {
    prefix: &'static str,
    dead_letters: bool,
    parked_events: bool,
    mounted: Cell<bool>,
}

impl AdminRoutes {
    fn new(prefix: &'static str, dead_letters: bool, parked_events: bool) -> Self {
        Self {
            prefix,
            dead_letters,
            parked_events,
            mounted: Cell::new(false),
        }
    }

    /// Adds `routes` to `cfg`, then the admin scope if `routes` did not mount it.
    fn mount_with<F>(&self, cfg: &mut ServiceConfig, routes: &F)
    where
        F: Fn(&mut ServiceConfig, &AdminRoutes),
    {
        routes(cfg, self);
        if (self.dead_letters || self.parked_events) && !self.mounted.get() {
            cfg.service(self.scope());
        }
    }

    /// The admin prefix as a scope, holding the dead-letter routes when there is a consumer
    /// and the parked-event routes when there is a relay. Mount it once, with the service's
    /// own admin routes added.
    pub fn scope(
        &self,
    ) -> Scope<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        self.mounted.set(true);
        let mut scope = utoipa_actix_web::scope::scope(self.prefix);
        if self.dead_letters {
            scope = scope.configure(dead_letters::configure);
        }
        if self.parked_events {
            scope = scope.configure(crate::outbox::parked::configure);
        }
        scope
    }
}

/// A service, built and listening; its background work running.
pub struct Application {
    port: u16,
    server: Server,
    pools: Pools,
    background: Background,
    grace: Duration,
}

impl Application {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (tests, the dev runner).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM or [`Application::handle`] stops it, then stops within
    /// the grace period (see [`crate::startup::run_until_stopped`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        crate::startup::run_until_stopped(self.server, self.background, self.pools, self.grace)
            .await
    }
}

/// A service crate's declaration: its manifest, settings, migrations, and what it adds to
/// the builder. Everything else (loading the settings, connecting and migrating, binding)
/// is the same for every service and done by [`AnyService::start`].
pub trait Service: Sync + 'static {
    type Settings: ServiceSettings;
    type Migrator: MigratorTrait;

    const MANIFEST: &'static Manifest;

    /// Adds the service's own parts to `service` (connected and migrated) and serves.
    fn build(
        service: ServiceBuilder,
        settings: Self::Settings,
    ) -> impl Future<Output = Result<Application, StartupError>> + Send;

    /// Loads its seed data, if it has any; returns what was done, for the operator.
    fn seed(
        _db: &DatabaseConnection,
    ) -> impl Future<Output = Result<Option<String>, StartupError>> + Send {
        async { Ok(None) }
    }
}

pub use futures_util::future::BoxFuture;

/// Any [`Service`], as a value: what the binary lists and the tests spawn.
pub trait AnyService: Sync {
    fn manifest(&self) -> &'static Manifest;
    fn check(&self, layers: &Layers) -> Result<(), ConfigError>;
    fn start<'a>(&'a self, layers: &'a Layers) -> BoxFuture<'a, Result<Application, StartupError>>;
    fn migrate<'a>(&'a self, db: &'a DatabaseConnection) -> BoxFuture<'a, Result<(), DbErr>>;
    fn seed<'a>(
        &'a self,
        db: &'a DatabaseConnection,
    ) -> BoxFuture<'a, Result<Option<String>, StartupError>>;
}

impl<S: Service> AnyService for S {
    fn manifest(&self) -> &'static Manifest {
        S::MANIFEST
    }

    fn check(&self, layers: &Layers) -> Result<(), ConfigError> {
        S::Settings::from_layers(layers).map(drop)
    }

    fn start<'a>(&'a self, layers: &'a Layers) -> BoxFuture<'a, Result<Application, StartupError>> {
        Box::pin(async move {
            let settings = S::Settings::from_layers(layers)?;
            let service =
                ServiceBuilder::connect::<S::Migrator>(S::MANIFEST, settings.base()).await?;
            S::build(service, settings).await
        })
    }

    fn migrate<'a>(&'a self, db: &'a DatabaseConnection) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(crate::db::migrate::<S::Migrator>(db))
    }

    fn seed<'a>(
        &'a self,
        db: &'a DatabaseConnection,
    ) -> BoxFuture<'a, Result<Option<String>, StartupError>> {
        Box::pin(S::seed(db))
    }
}
