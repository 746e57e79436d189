//! Every `tracing` event of a test binary, at every level, captured into
//! one buffer (for the tests that read what the client logs). Include it
//! with `#[path = "support/log_capture.rs"] mod log_capture;`.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

/// Installs the capturing subscriber on first use; the buffer of
/// everything logged by any test of this binary.
pub(crate) fn log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("the only tracing subscriber of this test binary");
        buffer
    })
    .clone()
}

/// What was logged so far, as text.
pub(crate) fn logged() -> String {
    String::from_utf8_lossy(&log().lock().expect("log lock")).into_owned()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
