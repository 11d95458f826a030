//! Kubernetes workloads named by log file paths.
//!
//! The kubelet and the container runtime put a container's log where its
//! path names the workload:
//!
//! - `/var/log/pods/<namespace>_<pod>_<pod-uid>/<container>/<N>.log`
//!   (and its rotated generations `<N>.log.<time>`, `<N>.log.<time>.gz`);
//! - `/var/log/containers/<pod>_<namespace>_<container>-<container-id>.log`,
//!   a symlink into the former.
//!
//! [`Workload::from_path`] reads namespace, pod, container (and the pod UID
//! or container id) back from such a path, wherever the directory is
//! mounted (`/host/var/log/pods/…` works too: only the last components
//! count).
//!
//! Guarantees: a name is accepted only if Kubernetes itself would accept it
//! (namespaces and containers are DNS-1123 labels, pods DNS-1123 subdomains,
//! UIDs and container ids short lowercase hex-and-dash words), so the
//! values are safe as metric label values and in JSON without escaping,
//! and no text from a log line can ever become a label. Any other path
//! yields `None`: the stream is then named only by its input.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The workload a log file belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Workload {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name within the pod.
    pub container: String,
    /// The pod's UID (from `/var/log/pods` paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The container's id (from `/var/log/containers` paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
}

impl Workload {
    /// The workload named by `path`, if it is a kubelet or container
    /// runtime log path.
    pub fn from_path(path: &str) -> Option<Workload> {
        let mut parts = path.rsplit('/');
        let file = parts.next()?;
        let dir = parts.next()?;
        if dir == "containers" {
            return Workload::from_containers_name(file);
        }
        // pods/<ns>_<pod>_<uid>/<container>/<N>.log[.<suffix>]
        let container = dir;
        let pod_dir = parts.next()?;
        if parts.next()? != "pods" || !is_kubelet_log_name(file) || !is_dns_label(container) {
            return None;
        }
        let (namespace, rest) = pod_dir.split_once('_')?;
        let (pod, uid) = rest.split_once('_')?;
        (is_dns_label(namespace) && is_dns_subdomain(pod) && is_uid(uid)).then(|| Workload {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            container: container.to_string(),
            pod_uid: Some(uid.to_string()),
            container_id: None,
        })
    }

    /// `<pod>_<namespace>_<container>-<container-id>.log`
    fn from_containers_name(file: &str) -> Option<Workload> {
        let stem = file.strip_suffix(".log")?;
        let (pod, rest) = stem.split_once('_')?;
        let (namespace, rest) = rest.split_once('_')?;
        let (container, id) = rest.rsplit_once('-')?;
        (is_dns_subdomain(pod)
            && is_dns_label(namespace)
            && is_dns_label(container)
            && is_container_id(id))
        .then(|| Workload {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            container: container.to_string(),
            pod_uid: None,
            container_id: Some(id.to_string()),
        })
    }

    /// The path whose disappearance means the workload is gone, for a log
    /// file at `path` of this workload: the pod's directory under
    /// `/var/log/pods` (the kubelet deletes it with the pod), or the
    /// `/var/log/containers` symlink itself (deleted with the container).
    pub fn presence_path(path: &Path) -> PathBuf {
        let is_pods = path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .is_some_and(|n| n == "pods");
        if is_pods {
            if let Some(pod_dir) = path.parent().and_then(Path::parent) {
                return pod_dir.to_path_buf();
            }
        }
        path.to_path_buf()
    }
}

/// `<N>.log`, optionally followed by a rotation suffix (`.20240101-120000`,
/// `.20240101-120000.gz`).
fn is_kubelet_log_name(file: &str) -> bool {
    let Some((n, rest)) = file.split_once(".log") else {
        return false;
    };
    !n.is_empty()
        && n.len() <= 10
        && n.bytes().all(|b| b.is_ascii_digit())
        && (rest.is_empty() || rest.starts_with('.'))
}

/// A DNS-1123 label: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
fn is_dns_label(s: &str) -> bool {
    s.len() <= 63
        && !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && alnum_ends(s)
}

/// A DNS-1123 subdomain: 1–253 characters, dot-separated labels.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A pod UID: a UUID, or the hex hash of a static pod's manifest.
fn is_uid(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
        && alnum_ends(s)
}

/// A container id: 64 lowercase hex digits (containerd, CRI-O, Docker).
fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn alnum_ends(s: &str) -> bool {
    let ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    ok(s.as_bytes().first()) && ok(s.as_bytes().last())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn kubelet_and_runtime_paths() {
        let w = Workload::from_path(
            "/var/log/pods/payments_api-7d4b9c-x2x9z_5f1c7c1e-2b1a-4c8e-9a51-0c9e8d7f6a5b/app/0.log",
        )
        .unwrap();
        assert_eq!(
            (w.namespace.as_str(), w.pod.as_str(), w.container.as_str()),
            ("payments", "api-7d4b9c-x2x9z", "app")
        );
        assert_eq!(
            w.pod_uid.as_deref(),
            Some("5f1c7c1e-2b1a-4c8e-9a51-0c9e8d7f6a5b")
        );
        let w = Workload::from_path(&format!(
            "/var/log/containers/api-7d4b9c-x2x9z_payments_app-server-{ID}.log"
        ))
        .unwrap();
        assert_eq!(
            (w.namespace.as_str(), w.pod.as_str(), w.container.as_str()),
            ("payments", "api-7d4b9c-x2x9z", "app-server")
        );
        assert_eq!(w.container_id.as_deref(), Some(ID));
        // Rotated generations keep their workload.
        for file in ["0.log.20240101-120000", "3.log.20240101-120000.gz"] {
            assert!(Workload::from_path(&format!("/var/log/pods/a_b_1234abcd/c/{file}")).is_some());
        }
        for bad in [
            "/var/log/app.log",
            "/var/log/containers/x.log",
            "/var/log/containers/pod_ns_c-1234.log",
            "/var/log/containers/Pod_ns_c-{ID}.log",
            "/var/log/pods/ns_pod_uid/c/app.log",
            "/var/log/pods/ns_pod_xyz/c/0.log",
            "/var/log/other/ns_pod_abcd/c/0.log",
            "/var/log/pods/ns_pod_abcd/C/0.log",
            "/var/log/pods/ns_pod_abcd/c/0.logx",
            "0.log",
            "",
        ] {
            assert_eq!(Workload::from_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn presence_paths() {
        assert_eq!(
            Workload::presence_path(Path::new("/x/var/log/pods/a_b_c1/app/0.log")),
            Path::new("/x/var/log/pods/a_b_c1")
        );
        let link = format!("/var/log/containers/b_a_app-{ID}.log");
        assert_eq!(Workload::presence_path(Path::new(&link)), Path::new(&link));
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
    }

    proptest! {
        /// Every name Kubernetes accepts is read back from both layouts,
        /// under any mount point and with any rotation suffix.
        #[test]
        fn round_trip(
            prefix in "(/[a-z]{1,6}){0,3}",
            ns in label(),
            pod in prop::collection::vec(label(), 1..4).prop_map(|v| v.join(".")),
            container in label(),
            uid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}",
            id in "[0-9a-f]{64}",
            n in 0u32..20,
            suffix in prop::sample::select(vec!["", ".20240101-120000", ".20240101-120000.gz"]),
        ) {
            let pods = format!("{prefix}/var/log/pods/{ns}_{pod}_{uid}/{container}/{n}.log{suffix}");
            let w = Workload::from_path(&pods).unwrap();
            prop_assert_eq!((&w.namespace, &w.pod, &w.container), (&ns, &pod, &container));
            prop_assert_eq!(w.pod_uid.as_deref(), Some(uid.as_str()));
            let pod_dir = format!("{prefix}/var/log/pods/{ns}_{pod}_{uid}");
            prop_assert_eq!(Workload::presence_path(Path::new(&pods)), PathBuf::from(pod_dir));
            let containers = format!("{prefix}/var/log/containers/{pod}_{ns}_{container}-{id}.log");
            let w = Workload::from_path(&containers).unwrap();
            prop_assert_eq!((&w.namespace, &w.pod, &w.container), (&ns, &pod, &container));
            prop_assert_eq!(w.container_id.as_deref(), Some(id.as_str()));
        }

        /// Whatever the path, an accepted workload holds only characters
        /// that need no escaping in a label value or JSON string.
        #[test]
        fn anything_else_is_bounded(path in "(/(pods|containers|[a-z_0-9.\\-\"\\\\ {}]{0,30})){1,5}") {
            if let Some(w) = Workload::from_path(&path) {
                for v in [&w.namespace, &w.pod, &w.container] {
                    prop_assert!(!v.is_empty() && v.len() <= 253);
                    prop_assert!(v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
                }
            }
        }
    }
}
