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
//! Serving: a thread waits for the first connection, then joins the same namespace and runs a
//! tiny_http server on that listener (so its shutdown wake-up connects inside the pod, not to
//! the host); a pod that never connects costs one idle thread. One short thread per
//! request; bodies are capped at 64 KiB. The key is re-read for each sign or verify, so
//! `acrun metadata rotate-key` takes effect in running pods too.

use super::key;
use super::routes::PodInfo;
use crate::pod::namespaces;
use nix::fcntl::OFlag;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

/// A running service; [`Service::stop`] ends it.
pub struct Service {
    state: Arc<Mutex<Serving>>,
    wake: OwnedFd,
    thread: std::thread::JoinHandle<()>,
}

/// Where the service thread is: waiting for its first client, or serving with tiny_http.
#[derive(Default)]
struct Serving {
    stopping: bool,
    server: Option<Arc<tiny_http::Server>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Service(..)")
    }
}

impl Service {
    /// Serves `pod` on `listening` until stopped. `dir` is acrun's state directory (the key).
    /// One thread waits for the first connection (most pods never make one); only then does it
    /// join the pod's network namespace and start tiny_http (an accept thread and a pool),
    /// which keeps a pod start from paying for threads it does not use. Connections made
    /// before that wait in the listener's backlog.
    pub fn start(listening: Listening, pod: PodInfo, dir: PathBuf) -> std::io::Result<Service> {
        let Listening { listener, netns } = listening;
        let (wake_r, wake) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
        let state = Arc::new(Mutex::new(Serving::default()));
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            if !first_client(&listener, &wake_r) {
                return;
            }
            if let Some(ns) = &netns
                && let Err(e) = nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            {
                eprintln!("acrun: metadata service: join the pod's network namespace: {e}");
                return;
            }
            let server = {
                let Ok(mut st) = shared.lock() else { return };
                if st.stopping {
                    return;
                }
                match tiny_http::Server::from_listener(listener, None) {
                    Ok(s) => Arc::clone(st.server.insert(Arc::new(s))),
                    Err(e) => {
                        eprintln!("acrun: metadata service: {e}");
                        return;
                    }
                }
            };
            serve(&server, &Arc::new(pod), &Arc::new(dir));
            drop(server);
            // The last reference is dropped here, in the pod's namespace.
            if let Ok(mut st) = shared.lock() {
                st.server = None;
            }
        });
        Ok(Service {
            state,
            wake,
            thread,
        })
    }

    /// Stops serving and waits for the service thread.
    pub fn stop(self) {
        if let Ok(mut st) = self.state.lock() {
            st.stopping = true;
            if let Some(server) = &st.server {
                server.unblock();
            }
        }
        let _ = nix::unistd::write(&self.wake, b"x");
        let _ = self.thread.join();
    }
}

/// Waits until `listener` has a connection to accept (true) or `wake` is written (false).
fn first_client(listener: &TcpListener, wake: &OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two initialised pollfd structs for descriptors this thread keeps open.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if fds[1].revents != 0 {
            return false;
        }
        if fds[0].revents != 0 {
            return true;
        }
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
