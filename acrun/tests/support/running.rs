//! Pods for end-to-end tests of run, enter and isolators: `acrun run` of busybox-static images
//! in the foreground, and a pod left running in the background (for `acrun enter` and for
//! reading its cgroups from the host).

use super::World;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A busybox image named `example.com/NAME` whose app is `app_json` (a JSON object), with extra
/// rootfs symlinks `(path, target)`.
pub fn image(w: &World, name: &str, app_json: &str, links: &[(&str, &str)]) -> PathBuf {
    super::busybox::image_with_links(w, name, app_json, links)
}

/// The default test image: `sh` as root with one image environment variable.
pub fn busybox(w: &World) -> PathBuf {
    image(
        w,
        "busybox",
        r#"{"exec":["/bin/sh","-c","true"],"user":"0","group":"0","environment":[{"name":"FROM_IMAGE","value":"yes"}]}"#,
        &[],
    )
}

/// [`World::acrun`] with plain string arguments.
pub fn acrun(w: &World, args: &[&str]) -> Output {
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
    w.acrun(&args)
}

/// `acrun run --insecure-options=image ARGS...`.
pub fn run(w: &World, args: &[&str]) -> Output {
    let mut all = vec!["run", "--insecure-options=image"];
    all.extend_from_slice(args);
    acrun(w, &all)
}

/// Runs `script` in the busybox image with extra pod flags before and app flags after the image.
pub fn sh(w: &World, pod: &[&str], app: &[&str], script: &str) -> Output {
    let aci = busybox(w);
    let aci = aci.to_str().unwrap();
    let mut args: Vec<&str> = pod.to_vec();
    args.push(aci);
    args.extend_from_slice(app);
    args.extend(["--", "-c", script]);
    run(w, &args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn explain(o: &Output) -> String {
    format!(
        "code {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A pod running in the background; stopped (and waited for) when dropped.
pub struct RunningPod<'w> {
    w: &'w World,
    child: Child,
    /// The pod's UUID.
    pub uuid: String,
    /// Host directory mounted at `/out` in the app(s) that mount volume `out`.
    pub out: PathBuf,
}

impl<'w> RunningPod<'w> {
    /// Starts `acrun run --insecure-options=image --volume out,... ARGS` and waits until
    /// `out/ready` exists (the app writes it once it has recorded what the test compares).
    /// `tag` keeps the files of several pods of one test apart.
    pub fn start(w: &'w World, tag: &str, args: &[&str]) -> RunningPod<'w> {
        RunningPod::start_with(w, tag, args, |_| {})
    }

    /// [`RunningPod::start`], with `setup` applied to the `acrun run` command first.
    pub fn start_with(
        w: &'w World,
        tag: &str,
        args: &[&str],
        setup: impl FnOnce(&mut Command),
    ) -> RunningPod<'w> {
        let out = w.path(&format!("{tag}.out"));
        std::fs::create_dir_all(&out).unwrap();
        // Apps that run as another user write here too.
        let perms = std::os::unix::fs::PermissionsExt::from_mode(0o777);
        std::fs::set_permissions(&out, perms).unwrap();
        let uuid_file = w.path(&format!("{tag}.uuid"));
        let log = w.path(&format!("{tag}.log"));
        let volume = format!("out,kind=host,source={}", out.display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_acrun"));
        setup(&mut command);
        let child = command
            .env("ACRUN_DIR", w.path("state"))
            .env("ACRUN_SYSTEM_TRUST_DIR", w.path("system-trust"))
            .args(["run", "--insecure-options=image", "--uuid-file-save"])
            .arg(&uuid_file)
            .args(["--volume", &volume])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut pod = RunningPod {
            w,
            child,
            uuid: String::new(),
            out,
        };
        let start = Instant::now();
        while !pod.out.join("ready").exists() {
            if let Ok(Some(status)) = pod.child.try_wait() {
                panic!(
                    "the pod ended early ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(start.elapsed() < Duration::from_secs(60), "pod never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        pod.uuid = std::fs::read_to_string(&uuid_file)
            .unwrap()
            .trim()
            .to_owned();
        pod
    }

    /// One busybox app running `script`, then marking itself ready and sleeping; `app` flags go
    /// after the image.
    pub fn busybox(w: &'w World, tag: &str, app: &[&str], script: &str) -> RunningPod<'w> {
        RunningPod::busybox_with(w, tag, app, script, |_| {})
    }

    /// [`RunningPod::busybox`], with `setup` applied to the `acrun run` command first.
    pub fn busybox_with(
        w: &'w World,
        tag: &str,
        app: &[&str],
        script: &str,
        setup: impl FnOnce(&mut Command),
    ) -> RunningPod<'w> {
        let aci = busybox(w);
        let script = format!("{script}; touch /out/ready; exec sleep 1000");
        let mut args = vec![aci.to_str().unwrap(), "--mount", "volume=out,target=/out"];
        args.extend_from_slice(app);
        args.extend(["--", "-c", &script]);
        RunningPod::start_with(w, tag, &args, setup)
    }

    /// A file the app wrote under `/out`.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.out.join(name)).unwrap()
    }

    /// `acrun enter UUID ARGS...`.
    pub fn enter(&self, args: &[&str]) -> Output {
        let mut all = vec!["enter", self.uuid.as_str()];
        all.extend_from_slice(args);
        acrun(self.w, &all)
    }

    /// SIGTERM to `acrun run`, which forwards it to the pod (works even before the UUID is
    /// known, when a test fails early).
    fn stop_and_wait(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let pid = i32::try_from(self.child.id()).unwrap();
            // SAFETY: plain kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = self.child.wait();
        }
    }
}

impl Drop for RunningPod<'_> {
    fn drop(&mut self) {
        self.stop_and_wait();
    }
}
