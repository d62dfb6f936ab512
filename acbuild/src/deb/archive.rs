//! The `ar` container of a `.deb` (deb(5)): `debian-binary`, then `control.tar[.COMP]`, then
//! `data.tar[.COMP]`, with members named `_…` allowed after them and ignored, as dpkg does.
//!
//! Defends against: a header that claims more bytes than the file holds, members out of order
//! or repeated (two readers could take different `data.tar`s), more than [`MEMBERS_MAX`]
//! members, unknown compressions, a `debian-binary` other than `2.x`, data after a member's
//! compressed stream, and decompression bombs (appc's memory-capped single-stream decoders,
//! appc's bounded tar walker with its limits).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use appc::aci::Compression;
use appc::aci::tar_stream::TarStream;

use super::DebError;

/// The most `ar` members a `.deb` may have.
pub const MEMBERS_MAX: usize = 16;
const MAGIC: &[u8; 8] = b"!<arch>\n";
const HEADER: usize = 60;

/// One member: its name and where its bytes lie in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    offset: u64,
    size: u64,
}

/// An opened `.deb`: its control and data members located and checked.
#[derive(Debug)]
pub struct Deb {
    path: PathBuf,
    control: (Member, Compression),
    data: (Member, Compression),
}

/// A decompressed tar member, walked with appc's bounded tar reader.
pub type TarReader = TarStream<Box<dyn Read>>;

impl Deb {
    /// Open `path` and check its `ar` layout.
    pub fn open(path: &Path) -> Result<Deb, DebError> {
        let mut file = File::open(path).map_err(DebError::io(path))?;
        let len = file.metadata().map_err(DebError::io(path))?.len();
        let members = members(&mut file, len).map_err(|r| DebError::format(path, r))?;
        let bad = |r: String| DebError::format(path, r);
        let mut main = members.iter().filter(|m| !m.name.starts_with('_'));
        let (Some(version), Some(control), Some(data), None) =
            (main.next(), main.next(), main.next(), main.next())
        else {
            return Err(bad(
                "expected exactly debian-binary, control.tar and data.tar members".to_owned(),
            ));
        };
        if version.name != "debian-binary" || members[0] != *version {
            return Err(bad(format!(
                "first member is `{}`, not debian-binary",
                members[0].name
            )));
        }
        let mut head = vec![0u8; usize::try_from(version.size.min(16)).unwrap_or(16)];
        file.seek(SeekFrom::Start(version.offset))
            .and_then(|_| file.read_exact(&mut head))
            .map_err(DebError::io(path))?;
        if !head.starts_with(b"2.") {
            return Err(bad("debian-binary is not format 2.x".to_owned()));
        }
        let control = (
            control.clone(),
            compression(&control.name, "control").map_err(bad)?,
        );
        let data = (data.clone(), compression(&data.name, "data").map_err(bad)?);
        Ok(Deb {
            path: path.to_path_buf(),
            control,
            data,
        })
    }

    /// The decompressed `control.tar`.
    pub fn control_tar(&self) -> Result<TarReader, DebError> {
        self.tar(&self.control)
    }

    /// The decompressed `data.tar`.
    pub fn data_tar(&self) -> Result<TarReader, DebError> {
        self.tar(&self.data)
    }

    /// The `.deb` file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tar(&self, (member, compression): &(Member, Compression)) -> Result<TarReader, DebError> {
        let mut file = File::open(&self.path).map_err(DebError::io(&self.path))?;
        file.seek(SeekFrom::Start(member.offset))
            .map_err(DebError::io(&self.path))?;
        let raw = BufReader::new(file).take(member.size);
        let decoded =
            appc::aci::strict_decoder(*compression, raw).map_err(DebError::io(&self.path))?;
        Ok(TarStream::new(decoded))
    }
}

fn compression(name: &str, stem: &str) -> Result<Compression, String> {
    let rest = name
        .strip_prefix(stem)
        .and_then(|r| r.strip_prefix(".tar"))
        .ok_or_else(|| format!("member `{name}` where {stem}.tar was expected"))?;
    match rest {
        "" => Ok(Compression::None),
        ".gz" => Ok(Compression::Gzip),
        ".xz" => Ok(Compression::Xz),
        ".zst" => Ok(Compression::Zstd),
        _ => Err(format!("member `{name}`: unsupported compression")),
    }
}

/// Every member header, checked against the file length.
fn members(file: &mut File, len: u64) -> Result<Vec<Member>, String> {
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)
        .map_err(|_| "shorter than the ar magic".to_owned())?;
    if &magic != MAGIC {
        return Err("not an ar archive (no !<arch> magic)".to_owned());
    }
    let mut out: Vec<Member> = Vec::new();
    let mut offset = MAGIC.len() as u64;
    while offset < len {
        if out.len() == MEMBERS_MAX {
            return Err(format!("more than {MEMBERS_MAX} ar members"));
        }
        let mut h = [0u8; HEADER];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut h))
            .map_err(|_| format!("truncated ar header at byte {offset}"))?;
        let member = header(&h, offset + HEADER as u64)?;
        let end = member
            .offset
            .checked_add(member.size)
            .filter(|e| *e <= len)
            .ok_or_else(|| format!("ar member `{}` runs past the end of the file", member.name))?;
        if out.iter().any(|m| m.name == member.name) {
            return Err(format!("ar member `{}` appears twice", member.name));
        }
        offset = end + (end % 2);
        out.push(member);
    }
    Ok(out)
}

fn header(h: &[u8; HEADER], offset: u64) -> Result<Member, String> {
    if &h[58..60] != b"`\n" {
        return Err(format!(
            "bad ar header terminator at byte {}",
            offset - HEADER as u64
        ));
    }
    let name = std::str::from_utf8(&h[0..16])
        .map_err(|_| "ar member name is not ASCII".to_owned())?
        .trim_end_matches(' ');
    // GNU ar ends names with `/`; dpkg-deb writes both forms.
    let name = name.strip_suffix('/').unwrap_or(name);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) || name.contains('/') {
        return Err(format!("ar member name {name:?} is not a plain name"));
    }
    let size = std::str::from_utf8(&h[48..58])
        .ok()
        .map(str::trim_end)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("ar member `{name}` has a bad size field"))?;
    Ok(Member {
        name: name.to_owned(),
        offset,
        size,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (name, data) in members {
            out.extend(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend(*data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn open(bytes: &[u8]) -> Result<Deb, DebError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.deb");
        std::fs::write(&p, bytes).unwrap();
        Deb::open(&p)
    }

    #[test]
    fn a_well_formed_layout_is_accepted() {
        let deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", b"x"),
            ("data.tar.xz", b"y"),
        ]);
        let d = open(&deb).unwrap();
        assert_eq!(d.data.1, Compression::Xz);
        assert_eq!(d.data.0.size, 1);
    }

    #[test]
    fn members_out_of_order_twice_or_unknown_are_refused() {
        let cases: [&[(&str, &[u8])]; 4] = [
            &[
                ("control.tar", b"x"),
                ("debian-binary", b"2.0\n"),
                ("data.tar", b"y"),
            ],
            &[
                ("debian-binary", b"2.0\n"),
                ("control.tar", b"x"),
                ("control.tar", b"y"),
            ],
            &[
                ("debian-binary", b"2.0\n"),
                ("control.tar", b"x"),
                ("data.tar.bz3", b"y"),
            ],
            &[
                ("debian-binary", b"3.0\n"),
                ("control.tar", b"x"),
                ("data.tar", b"y"),
            ],
        ];
        for c in cases {
            assert!(
                matches!(open(&ar(c)), Err(DebError::Format { .. })),
                "{c:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn hostile_bytes_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let mut raw = MAGIC.to_vec();
            raw.extend(&tail);
            let members = ar(&[("debian-binary", b"2.0\n"), ("control.tar.gz", &tail), ("data.tar.xz", &tail)]);
            for bytes in [raw, members] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("p.deb");
                std::fs::write(&path, bytes).unwrap();
                if let Ok(d) = Deb::open(&path) {
                    let _ = crate::deb::control::Control::of(&d);
                    let dest = dir.path().join("root");
                    std::fs::create_dir(&dest).unwrap();
                    let _ = crate::deb::unpack::unpack(&d, &dest);
                }
            }
        }
    }

    #[test]
    fn data_after_a_members_compressed_stream_is_refused() {
        use std::io::Write;
        let mut tar = tar::Builder::new(Vec::new());
        let control = b"Package: p\nVersion: 1\nArchitecture: all\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(control.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, "./control", &control[..]).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        let clean = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.deb");
        for (member, ok) in [
            (clean.clone(), true),
            ([clean, b"junk".to_vec()].concat(), false),
        ] {
            let deb = ar(&[
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", &member),
                ("data.tar", b""),
            ]);
            std::fs::write(&path, deb).unwrap();
            let got = crate::deb::control::Control::of(&Deb::open(&path).unwrap());
            assert_eq!(got.is_ok(), ok, "{got:?}");
        }
    }

    #[test]
    fn a_size_past_the_end_is_refused() {
        let mut deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", b"x"),
            ("data.tar", b"y"),
        ]);
        deb.truncate(deb.len() - 2);
        let err = open(&deb).unwrap_err().to_string();
        assert!(err.contains("runs past the end"), "{err}");
    }
}
