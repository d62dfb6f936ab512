//! The dependency list of an image, in the order the spec renders it (checklist §1.7, the Go
//! `acirenderer.createDepList`): start with `[top]`; walking the list front to back, insert each
//! element's dependencies directly after it (so later declarations come first). Rendering then
//! walks the list front to back and the first image that provides a path wins, which is the
//! spec's "dependencies first, later ones override" order.
//!
//! Defends against: dependency cycles (CVE-2016-8579 in docker2aci; the Go renderer loops
//! forever), chains deeper than [`MAX_DEPTH`], diamond explosions (more than [`MAX_IMAGES`]
//! list elements), and a dependency whose declared `imageID`, `size` or name is not what was
//! found.
//! Every check names the chain of images that led to it.

use appc::ImageId;
use appc::manifest::{Dependency, ImageManifest};

/// Deepest dependency chain accepted (the top image is level 0).
pub const MAX_DEPTH: usize = 16;
/// Most elements in one dependency list (an image that appears twice counts twice).
pub const MAX_IMAGES: usize = 256;

/// An image with its parsed manifest.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: ImageId,
    pub manifest: ImageManifest,
    /// Size in bytes of the image file as fetched (a dependency's `size` must match it).
    pub size: u64,
}

/// One element of the dependency list.
#[derive(Debug, Clone)]
pub struct Layer {
    pub id: ImageId,
    pub manifest: ImageManifest,
    /// 0 for the top image.
    pub level: usize,
    /// The image names from the top down to this one.
    pub chain: Vec<String>,
    chain_ids: Vec<ImageId>,
    /// The non-empty path whitelists of this image's true ancestors (normalised).
    pub inherited: Vec<Vec<String>>,
}

/// Why a dependency list could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DepError {
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("dependencies nested deeper than {MAX_DEPTH}: {}", .0.join(" -> "))]
    TooDeep(Vec<String>),
    #[error("more than {MAX_IMAGES} images in the dependency list of {0}")]
    TooMany(String),
    #[error("{}: dependency {dependency} not found: {reason}", .chain.join(" -> "))]
    NotFound {
        chain: Vec<String>,
        dependency: String,
        reason: String,
    },
    #[error("{}: dependency {dependency} must have image ID {expected}, but the image found has {found}", .chain.join(" -> "))]
    WrongId {
        chain: Vec<String>,
        dependency: String,
        expected: String,
        found: String,
    },
    #[error("{}: dependency {dependency} must be {expected} bytes, but the image found is {found} bytes", .chain.join(" -> "))]
    WrongSize {
        chain: Vec<String>,
        dependency: String,
        expected: u64,
        found: u64,
    },
    #[error("{}: dependency {dependency} resolved to an image named {found}", .chain.join(" -> "))]
    WrongName {
        chain: Vec<String>,
        dependency: String,
        found: String,
    },
}

/// Normalise a whitelist entry to a rootfs-relative path (Go: `filepath.Join("rootfs", p)`).
pub fn normalise(entry: &str) -> String {
    entry
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn whitelist(m: &ImageManifest) -> Vec<String> {
    m.path_whitelist.iter().map(|p| normalise(p)).collect()
}

/// The dependency list of `top`; `resolve` finds the image a dependency names.
pub fn dep_list(
    top: Node,
    resolve: &mut dyn FnMut(&Dependency) -> Result<Node, String>,
) -> Result<Vec<Layer>, DepError> {
    let name = top.manifest.name.as_str().to_owned();
    let mut list = vec![Layer {
        id: top.id,
        level: 0,
        chain: vec![name.clone()],
        chain_ids: vec![top.id],
        inherited: Vec::new(),
        manifest: top.manifest,
    }];
    let mut i = 0;
    while i < list.len() {
        let parent = list[i].clone();
        let mut inherited = parent.inherited.clone();
        let own = whitelist(&parent.manifest);
        if !own.is_empty() {
            inherited.push(own);
        }
        for dep in &parent.manifest.dependencies {
            let layer = child(&parent, dep, inherited.clone(), resolve)?;
            list.insert(i + 1, layer);
            if list.len() > MAX_IMAGES {
                return Err(DepError::TooMany(name));
            }
        }
        i += 1;
    }
    Ok(list)
}

fn child(
    parent: &Layer,
    dep: &Dependency,
    inherited: Vec<Vec<String>>,
    resolve: &mut dyn FnMut(&Dependency) -> Result<Node, String>,
) -> Result<Layer, DepError> {
    let dependency = dep.image_name.as_str().to_owned();
    let chain = parent.chain.clone();
    let node = resolve(dep).map_err(|reason| DepError::NotFound {
        chain: chain.clone(),
        dependency: dependency.clone(),
        reason,
    })?;
    if let Some(expected) = dep.image_id
        && expected != node.id
    {
        return Err(DepError::WrongId {
            chain,
            dependency,
            expected: expected.to_string(),
            found: node.id.to_string(),
        });
    }
    if let Some(expected) = dep.size
        && expected != node.size
    {
        return Err(DepError::WrongSize {
            chain,
            dependency,
            expected,
            found: node.size,
        });
    }
    if node.manifest.name != dep.image_name {
        return Err(DepError::WrongName {
            chain,
            dependency,
            found: node.manifest.name.as_str().to_owned(),
        });
    }
    let mut next_chain = chain;
    next_chain.push(dependency);
    if parent.chain_ids.contains(&node.id) {
        return Err(DepError::Cycle(next_chain));
    }
    if parent.level + 1 > MAX_DEPTH {
        return Err(DepError::TooDeep(next_chain));
    }
    let mut chain_ids = parent.chain_ids.clone();
    chain_ids.push(node.id);
    Ok(Layer {
        id: node.id,
        level: parent.level + 1,
        chain: next_chain,
        chain_ids,
        inherited,
        manifest: node.manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use appc::name::AcIdentifier;
    use std::collections::BTreeMap;

    fn image(name: &str, deps: &[&str]) -> Node {
        let mut m = ImageManifest::new(AcIdentifier::new(name).unwrap());
        for d in deps {
            m.dependencies.push(Dependency {
                image_name: AcIdentifier::new(d).unwrap(),
                image_id: None,
                labels: Default::default(),
                size: None,
            });
        }
        let mut digest = [0u8; 64];
        digest[..name.len()].copy_from_slice(name.as_bytes());
        Node {
            id: ImageId::from_digest(digest),
            manifest: m,
            size: 1000,
        }
    }

    fn list(images: &[Node]) -> Result<Vec<String>, DepError> {
        let by_name: BTreeMap<String, Node> = images
            .iter()
            .map(|n| (n.manifest.name.as_str().to_owned(), n.clone()))
            .collect();
        let mut resolve = |d: &Dependency| {
            by_name
                .get(d.image_name.as_str())
                .cloned()
                .ok_or_else(|| "missing".to_owned())
        };
        Ok(dep_list(images[0].clone(), &mut resolve)?
            .into_iter()
            .map(|l| l.manifest.name.as_str().to_owned())
            .collect())
    }

    #[test]
    fn orders_like_the_reference_renderer() {
        let got = list(&[
            image("a", &["b", "c"]),
            image("b", &[]),
            image("c", &["d"]),
            image("d", &[]),
        ])
        .unwrap();
        assert_eq!(got, ["a", "c", "d", "b"]);
        let got = list(&[
            image("a", &["b", "c"]),
            image("b", &["d"]),
            image("c", &["d"]),
            image("d", &[]),
        ])
        .unwrap();
        assert_eq!(got, ["a", "c", "d", "b", "d"]);
    }

    #[test]
    fn refuses_cycles_and_self_dependencies() {
        let err = list(&[image("a", &["b"]), image("b", &["a"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
        assert!(matches!(
            list(&[image("a", &["a"])]),
            Err(DepError::Cycle(_))
        ));
    }

    #[test]
    fn refuses_chains_deeper_than_the_limit_and_accepts_the_limit() {
        let names: Vec<String> = (0..=MAX_DEPTH + 1).map(|i| format!("i{i}")).collect();
        let chain = |n: usize| -> Vec<Node> {
            (0..n)
                .map(|i| {
                    let deps: Vec<&str> = if i + 1 < n {
                        vec![names[i + 1].as_str()]
                    } else {
                        vec![]
                    };
                    image(&names[i], &deps)
                })
                .collect()
        };
        assert_eq!(list(&chain(MAX_DEPTH + 1)).unwrap().len(), MAX_DEPTH + 1);
        assert!(matches!(
            list(&chain(MAX_DEPTH + 2)),
            Err(DepError::TooDeep(_))
        ));
    }

    #[test]
    fn refuses_a_wrong_image_id() {
        let mut a = image("a", &["b"]);
        a.manifest.dependencies[0].image_id = Some(ImageId::from_digest([9; 64]));
        let err = list(&[a, image("b", &[])]).unwrap_err();
        assert!(matches!(err, DepError::WrongId { .. }), "{err}");
    }

    #[test]
    fn refuses_a_wrong_size_and_accepts_the_right_one() {
        let mut a = image("a", &["b"]);
        a.manifest.dependencies[0].size = Some(1000);
        assert!(
            list(&[a.clone(), image("b", &[])]).is_ok(),
            "positive control"
        );
        a.manifest.dependencies[0].size = Some(999);
        let err = list(&[a, image("b", &[])]).unwrap_err();
        assert!(matches!(err, DepError::WrongSize { .. }), "{err}");
        assert!(err.to_string().contains("999 bytes"), "{err}");
    }

    #[test]
    fn normalises_whitelist_entries() {
        assert_eq!(normalise("/etc/systemd/system/"), "etc/systemd/system");
        assert_eq!(normalise("foo"), "foo");
    }
}
