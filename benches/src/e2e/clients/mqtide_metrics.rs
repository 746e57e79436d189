//! `--libs mqtide-metrics`: mqtide with its `metrics` feature, reporting
//! to a Prometheus recorder (metrics-exporter-prometheus, without its HTTP
//! listener: the figures are recorded, as a service's would be, and never
//! scraped). The recorder is the client's own (`with_local_recorder` while
//! it is built), so the plain `mqtide` rows of the same run record nothing.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use mqtide::{Client, ClientBuilder, Connection};

fn recorder() -> &'static PrometheusRecorder {
    static RECORDER: OnceLock<PrometheusRecorder> = OnceLock::new();
    RECORDER.get_or_init(|| PrometheusBuilder::new().build_recorder())
}

/// Builds the client with its series registered with the recorder.
pub(super) fn build(builder: ClientBuilder) -> Result<(Client, Connection), mqtide::Error> {
    metrics::with_local_recorder(recorder(), || builder.build())
}
