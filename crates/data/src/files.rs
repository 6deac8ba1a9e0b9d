//! Reading the small files a user names (configs, class subsets, label files, instructions) as
//! untrusted bytes: regular files only, and never more than a stated limit.
//!
//! A size taken from the file's metadata is not a bound: a named pipe reports 0 bytes and blocks
//! a reader for ever, `/dev/zero` reports 0 bytes and never ends, and a file may grow between
//! `stat` and `read`. So [`open_regular`] opens without blocking and refuses whatever is not a
//! regular file (checked on the opened descriptor, so a path swapped after the check is caught
//! too), and [`read_bounded`] reads at most `limit + 1` bytes: one byte more than the limit means
//! too large, whatever the metadata said.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a small file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SmallFileError {
    /// Opening or reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A named pipe, socket, device or folder.
    #[error("{}: {kind}, not a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// More bytes than the limit.
    #[error("{}: larger than {limit} bytes, the most rectify reads for {what}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
        /// What the file was read as.
        what: &'static str,
    },
    /// Not UTF-8 text.
    #[error("{}: not UTF-8 text ({source})", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::string::FromUtf8Error,
    },
}

/// What a file that is not regular is, for the message.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// Opens `path` for reading if it is a regular file (after following links). Whatever is not a
/// regular file by its metadata is refused before it is opened (so no device is opened at all);
/// the open itself neither blocks on a named pipe swapped in meanwhile (`O_NONBLOCK`) nor makes a
/// terminal the controlling one (`O_NOCTTY`), and the type is checked again on the opened file.
pub fn open_regular(path: &Path) -> Result<File, SmallFileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| SmallFileError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular { path: path.to_path_buf(), kind: kind_of(&meta) });
    }
    let flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular { path: path.to_path_buf(), kind: kind_of(&meta) });
    }
    Ok(file)
}

/// The bytes of the regular file `path`, at most `limit` of them (`what` names the file's role
/// in the error: "a preprocessing config", "a label file" …).
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, SmallFileError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| SmallFileError::Io { path: path.to_path_buf(), source })?;
    if bytes.len() as u64 > limit {
        return Err(SmallFileError::TooLarge { path: path.to_path_buf(), limit, what });
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, SmallFileError> {
    String::from_utf8(read_bounded(path, limit, what)?)
        .map_err(|source| SmallFileError::NotText { path: path.to_path_buf(), source })
}

/// Most bytes of a label file (`--labels`): ImageNet's 50,000 validation labels take 1.6 MB and
/// its 1.28 million training rows about 60 MB.
pub const MAX_LABEL_FILE: u64 = 256 << 20;

/// Most bytes of a ReaL file or an attribute table: real.json takes 1.2 MB for 50,000 images.
pub const MAX_TABLE_FILE: u64 = 256 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "0123456789").unwrap();
        assert_eq!(read_text(&p, 10, "a test").unwrap(), "0123456789");
        let err = read_text(&p, 9, "a test").unwrap_err();
        assert!(matches!(err, SmallFileError::TooLarge { limit: 9, .. }), "{err}");
        assert!(err.to_string().contains("larger than 9 bytes, the most rectify reads for a test"), "{err}");
    }

    #[test]
    fn pipes_devices_and_folders_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let err = read_text(&fifo, 1 << 20, "a test").unwrap_err();
        assert!(err.to_string().ends_with("a named pipe, not a regular file"), "{err}");
        let err = read_text(Path::new("/dev/zero"), 1 << 20, "a test").unwrap_err();
        assert!(err.to_string().ends_with("a character device, not a regular file"), "{err}");
        let err = read_text(dir.path(), 1 << 20, "a test").unwrap_err();
        assert!(err.to_string().ends_with("a folder, not a regular file"), "{err}");
        // A link to the pipe is the pipe.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(read_text(&link, 10, "a test"), Err(SmallFileError::NotRegular { .. })));
    }

    #[test]
    fn a_file_larger_than_its_metadata_says_is_still_bounded() {
        // /proc files report a size of 0 and hold more: the limit, not the metadata, decides.
        let err = read_bounded(Path::new("/proc/self/maps"), 16, "a test").unwrap_err();
        assert!(matches!(err, SmallFileError::TooLarge { .. }), "{err}");
    }
}
