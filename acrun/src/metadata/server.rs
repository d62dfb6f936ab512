//! Mechanism of the metadata service: one per pod, inside `acrun run`'s host-side process (never
//! in the pod's PID namespace, so no app can read the key from its memory), alive exactly as
//! long as the pod.
//!
//! Reachability: with `--net=none` the pod's network namespace exists before the pod does
//! (`pod::namespaces::new_network`), and the service binds `127.0.0.1:0` in it; the supervisor
//! joins that namespace. The socket lives in the pod's namespace, so only the pod can connect —
//! nothing listens on any host address. With
//! `--net=host` the pod shares the host's namespace and the service binds the host's
//! `127.0.0.1:0`; local processes could connect, but without the pod's token every request gets
//! 401.
//!
//! Serving: `acrun run`'s main thread polls the listener with its own events; on the first
//! connection it starts a tiny_http server on that listener, and stops it in the pod's namespace
//! (tiny_http's shutdown wake-up connects to the listener's address, which must be the pod's, not
//! the host's); a pod that never connects costs no thread. One short thread per request; bodies
//! are capped at 64 KiB. The key is re-read for each sign or verify, so `acrun metadata
//! rotate-key` takes effect in running pods too.

use super::key;
use super::routes::PodInfo;
use crate::pod::namespaces;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

/// Largest request body read.
const MAX_BODY: u64 = 64 * 1024;

/// A listening socket in the pod's network namespace (and that namespace, for `--net=none`).
#[derive(Debug)]
pub struct Listening {
    /// The socket.
    pub listener: TcpListener,
    /// The pod's network namespace, made here; `None` with `--net=host`.
    pub netns: Option<OwnedFd>,
}

impl Listening {
    /// Binds the service in the pod's network namespace `netns` (made by
    /// [`crate::pod::namespaces::new_network`]; `None` for the host's).
    pub fn new(netns: Option<OwnedFd>) -> std::io::Result<Listening> {
        let listener = namespaces::in_network(netns.as_ref(), || TcpListener::bind("127.0.0.1:0"))?;
        Ok(Listening { listener, netns })
    }

    /// `http://127.0.0.1:PORT/TOKEN`, the pod's `AC_METADATA_URL`.
    pub fn url(&self, token: &str) -> std::io::Result<String> {
        Ok(format!("http://{}/{token}", self.listener.local_addr()?))
    }
}

/// The pod's service: waiting for its first client (no thread yet), then serving on a thread;
/// [`Service::stop`] ends it.
pub struct Service {
    waiting: Option<(Listening, PodInfo, PathBuf)>,
    /// The server and the namespace its listener is in (`None`: the host's).
    server: Option<(Arc<tiny_http::Server>, Option<OwnedFd>)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Service(..)")
    }
}

impl Service {
    /// Will serve `pod` on `listening`; `dir` is acrun's state directory (the key). Nothing runs
    /// yet: the caller polls [`Service::waiting_fd`] alongside its own events (most pods never
    /// connect) and calls [`Service::serve`] when it is readable. Connections made before that
    /// wait in the listener's backlog.
    pub fn new(listening: Listening, pod: PodInfo, dir: PathBuf) -> Service {
        Service {
            waiting: Some((listening, pod, dir)),
            server: None,
            thread: None,
        }
    }

    /// The listening socket while no client has come yet; `None` once serving.
    pub fn waiting_fd(&self) -> Option<BorrowedFd<'_>> {
        self.waiting.as_ref().map(|(l, _, _)| l.listener.as_fd())
    }

    /// Starts tiny_http (an accept thread and a thread per request) on the listener. Accepting
    /// and answering need no namespace: the socket already is the pod's. Does nothing when
    /// already serving.
    pub fn serve(&mut self) -> std::io::Result<()> {
        let Some((Listening { listener, netns }, pod, dir)) = self.waiting.take() else {
            return Ok(());
        };
        let server = Arc::new(
            tiny_http::Server::from_listener(listener, None)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        );
        let serving = Arc::clone(&server);
        self.thread = Some(std::thread::spawn(move || {
            serve(&serving, &Arc::new(pod), &Arc::new(dir));
        }));
        self.server = Some((server, netns));
        Ok(())
    }

    /// Stops serving and waits for the service thread. The last reference to the server is
    /// dropped here, in the listener's namespace: tiny_http's drop wakes its accept thread by
    /// connecting to the listener's address, which must be the pod's, not the host's.
    pub fn stop(mut self) {
        let Some((server, netns)) = self.server.take() else {
            return;
        };
        server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = namespaces::in_network(netns.as_ref(), move || {
            drop(server);
            Ok(())
        });
    }
}

fn serve(server: &tiny_http::Server, pod: &Arc<PodInfo>, dir: &Arc<PathBuf>) {
    while let Ok(request) = server.recv() {
        let (pod, dir) = (Arc::clone(pod), Arc::clone(dir));
        std::thread::spawn(move || answer(request, &pod, &dir));
    }
}

fn answer(mut request: tiny_http::Request, pod: &PodInfo, dir: &std::path::Path) {
    let mut body = Vec::new();
    if request
        .as_reader()
        .take(MAX_BODY)
        .read_to_end(&mut body)
        .is_err()
    {
        return;
    }
    let method = request.method().as_str().to_owned();
    let key = || key::load(dir).map_err(|e| e.to_string());
    let reply = pod.answer(&key, &method, request.url(), &body);
    let mut response = tiny_http::Response::from_data(reply.body)
        .with_status_code(tiny_http::StatusCode(reply.status));
    if let Ok(h) =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], reply.content_type.as_bytes())
    {
        response.add_header(h);
    }
    let _ = request.respond(response);
}
