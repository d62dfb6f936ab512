//! Pods: the apps of one `acrun run`, each in its own mount namespace over a fresh overlay (or
//! copy, [`root_mode`]) of its rendered image, all sharing one PID, UTS, IPC and network
//! namespace under acrun's supervisor.
//!
//! Policy (plain data, unit-tested without root): [`spec`] (the pod and its apps), [`env`](mod@env),
//! [`user`], [`filesystem`] (the mounts of the Linux view), [`ports`] (which host port goes
//! where; its forwarder is the one mechanism kept beside its policy), and [`crate::isolators`].
//! Mechanism (thin syscall layers, covered by end-to-end tests that run real pods): [`rootfs`]
//! and [`copy`] (through [`crate::beneath`], the path-beneath resolver), [`namespaces`], [`process`], [`runner`],
//! [`crate::supervisor`], and [`launch`], which ties them together on the host side.
//! [`state`] is the on-disk record other acrun commands read; [`app_record`] is what a runner
//! records of its app for [`enter`], which joins a running app with exactly its confinement.

pub mod app_record;
pub mod copy;
pub mod enter;
pub mod env;
pub mod filesystem;
pub mod launch;
pub mod namespaces;
pub mod pidfd;
pub mod pins;
pub mod ports;
pub mod process;
pub mod root_mode;
pub mod rootfs;
pub mod runner;
pub mod spec;
pub mod state;
pub mod tty;
pub mod user;
