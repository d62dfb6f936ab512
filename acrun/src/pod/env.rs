//! The environment of an app's main process and its event handlers (appc §4.5). Later entries
//! win: the image's `environment`, then `--set-env`; the mandatory `PATH` default, `AC_APP_NAME`,
//! `AC_METADATA_URL` and `container=acrun` are set first and only `PATH` may be overridden (the
//! others identify the app and the executor, and an image must not forge them).
//!
//! Nothing from acrun's own environment leaks in.

/// The default `PATH` of the spec.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The app's environment, sorted by name for a deterministic order.
pub fn app_environment(
    app_name: &str,
    metadata_url: &str,
    image_env: &[(String, String)],
    set_env: &[(String, String)],
) -> Vec<(String, String)> {
    let fixed = [
        ("AC_APP_NAME", app_name),
        ("AC_METADATA_URL", metadata_url),
        ("container", "acrun"),
    ];
    let mut env: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    env.insert("PATH".into(), DEFAULT_PATH.into());
    for (k, v) in image_env.iter().chain(set_env) {
        if fixed.iter().any(|(f, _)| f == k) {
            continue;
        }
        env.insert(k.clone(), v.clone());
    }
    for (k, v) in fixed {
        env.insert(k.into(), v.into());
    }
    env.into_iter().collect()
}

/// The value of `PATH` in `env`.
pub fn path_of(env: &[(String, String)]) -> &str {
    env.iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn mandatory_variables_are_present() {
        let env = app_environment("web", "", &[], &[]);
        assert!(env.contains(&kv("AC_APP_NAME", "web")));
        assert!(env.contains(&kv("container", "acrun")));
        assert_eq!(path_of(&env), DEFAULT_PATH);
    }

    #[test]
    fn set_env_overrides_the_image_and_path() {
        let env = app_environment(
            "web",
            "",
            &[kv("A", "image"), kv("PATH", "/opt/bin")],
            &[kv("A", "flag")],
        );
        assert!(env.contains(&kv("A", "flag")));
        assert_eq!(path_of(&env), "/opt/bin");
    }

    #[test]
    fn the_image_cannot_forge_the_app_name() {
        let env = app_environment("web", "", &[kv("AC_APP_NAME", "other")], &[]);
        assert!(env.contains(&kv("AC_APP_NAME", "web")));
        assert_eq!(env.iter().filter(|(k, _)| k == "AC_APP_NAME").count(), 1);
    }
}
