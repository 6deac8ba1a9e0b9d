//! Paths read from a store are untrusted: checked before anything is joined, read or written.
//!
//! A run directory may come from elsewhere (a shard made on another machine, a run shared by a
//! colleague, a file edited by hand), so its `rectify.db` is untrusted bytes like an image. Every
//! path it records (an adversarial PNG, an explanation's JSON, an image's file, a stage run's
//! name, which names a folder) must be relative, made of plain components (no `..`, no root, no
//! `.`), and, where a file is opened, stay inside its folder once links are resolved. The
//! store's readers refuse rows that break the first rule ([`relative`], [`check_name`]), so no
//! caller can join an absolute or `..` path by mistake; [`inside`] checks the second where a
//! file is read or written.

use std::path::{Component, Path, PathBuf};

use crate::StoreError;

/// Longest stage run name.
const MAX_NAME: usize = 200;

/// `rel` as a relative path of plain components, or why not (for the message).
pub fn plain(rel: &str) -> Result<&Path, &'static str> {
    let path = Path::new(rel);
    if rel.is_empty() {
        return Err("an empty path");
    }
    if rel.contains('\0') {
        return Err("a path with a NUL byte");
    }
    if path.is_absolute() {
        return Err("an absolute path");
    }
    // By the bytes, not by `Path::components`, which drops an inner `.` and empty parts.
    for part in rel.split('/') {
        match part {
            "" => return Err("a path with an empty part"),
            ".." => return Err("a path with `..`"),
            "." => return Err("a path with `.`"),
            _ => {}
        }
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err("an absolute path");
    }
    Ok(path)
}

/// [`plain`] as a store error naming the database, the field and the value.
pub fn relative<'a>(dir: &Path, field: &str, rel: &'a str) -> Result<&'a Path, StoreError> {
    plain(rel).map_err(|why| StoreError::UnsafePath {
        dir: dir.to_path_buf(),
        field: field.to_string(),
        path: rel.to_string(),
        why: format!("{why}, not a path inside the run"),
    })
}

/// Checks a stage run's name, which becomes a folder (`attack/<name>`): one plain path component
/// of at most 200 bytes.
pub fn check_name(dir: &Path, kind: &str, name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::UnsafePath {
        dir: dir.to_path_buf(),
        field: format!("the name of the {kind} run"),
        path: name.to_string(),
        why: why.to_string(),
    };
    plain(name).map_err(|why| bad(&format!("{why}: a run's name must be one folder name")))?;
    if name.contains(['/', '\\']) {
        return Err(bad("a run's name must be one folder name, without / or \\"));
    }
    if name.len() > MAX_NAME {
        return Err(bad(&format!("longer than {MAX_NAME} bytes")));
    }
    Ok(())
}

/// `root/rel` once `rel` is checked ([`plain`]) and, with links resolved, still inside `root`:
/// the path itself when it exists, else its deepest existing folder. A dangling link is refused
/// (writing through it would create its target). `what` names the source for the message.
pub fn inside(root: &Path, rel: &str, what: &str) -> Result<PathBuf, StoreError> {
    let unsafe_path = |why: String| StoreError::UnsafePath {
        dir: root.to_path_buf(),
        field: what.to_string(),
        path: rel.to_string(),
        why,
    };
    let path = root.join(plain(rel).map_err(|why| unsafe_path(format!("{why}, not a path inside the run")))?);
    let base = root.canonicalize().map_err(|source| StoreError::Io { path: root.to_path_buf(), source })?;
    let mut probe = path.as_path();
    loop {
        if probe.symlink_metadata().is_ok() {
            let resolved = probe
                .canonicalize()
                .map_err(|e| unsafe_path(format!("{} cannot be resolved ({e}): a dangling link", probe.display())))?;
            if !resolved.starts_with(&base) {
                return Err(unsafe_path(format!("a link out of the run (to {})", resolved.display())));
            }
            return Ok(path);
        }
        probe = probe.parent().expect("a path under root has root as an ancestor");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        for ok in ["a.png", "attack/ifgsm/images/x.png", "n01/ILSVRC2012_val_1.JPEG", "...png", "a..b"] {
            assert!(plain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../evil/pwned.sh", "attack/../../x", "./a", "a/./b", "a\0b", "a//b", "a/"] {
            assert!(plain(bad).is_err(), "{bad:?}");
        }
        let dir = Path::new("/runs/r");
        assert!(check_name(dir, "attack", "ifgsm").is_ok());
        for bad in ["", "..", ".", "a/b", "../x", "a\\b", &"x".repeat(201)] {
            assert!(check_name(dir, "attack", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn links_out_of_the_root_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("run"), tmp.path().join("outside"));
        std::fs::create_dir_all(root.join("attack")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("attack/a.png"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("attack/out")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), root.join("attack/dangling")).unwrap();
        std::os::unix::fs::symlink(root.join("attack"), root.join("within")).unwrap();
        assert_eq!(inside(&root, "attack/a.png", "t").unwrap(), root.join("attack/a.png"));
        // Not there yet: its deepest existing folder decides.
        assert!(inside(&root, "attack/new/b.png", "t").is_ok());
        assert!(inside(&root, "within/a.png", "t").is_ok());
        let err = inside(&root, "attack/out/b.png", "t").unwrap_err().to_string();
        assert!(err.contains("a link out of the run"), "{err}");
        let err = inside(&root, "attack/dangling", "t").unwrap_err().to_string();
        assert!(err.contains("a dangling link"), "{err}");
        assert!(inside(&root, "../outside/x", "t").is_err());
    }
}
