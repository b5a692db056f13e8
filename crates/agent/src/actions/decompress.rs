//! Decompression for `COMPRESSED=true` images: the format is recognised by its magic
//! bytes (Tinkerbell's image2disk goes by the URL's extension instead; the extension is
//! used here only when the magic bytes are not recognised).
//!
//! Crate choices, all of which build for `x86_64-unknown-linux-musl` with nothing but
//! `musl-gcc` (Debian's musl-tools):
//! - gzip: `flate2` with the `zlib-rs` backend — pure Rust (no system zlib to link
//!   statically) and as fast as zlib-ng; `MultiGzDecoder` for multi-member files (pigz).
//! - xz: `liblzma` with `static` — the reference liblzma compiled from its bundled source
//!   by `cc`, so no system library; the pure-Rust decoders (`lzma-rs`) are several times
//!   slower. A multi-stream decoder, like `xz -d`.
//! - zstd: `zstd` — the reference C library compiled from bundled source (static by
//!   construction); the decoder reads concatenated frames.
//! - bzip2: `bzip2` 0.6 — its default backend is `libbz2-rs-sys`, a pure-Rust port of
//!   libbzip2; `MultiBzDecoder` for concatenated streams (pbzip2).

use std::io::{BufRead, Read};

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// gzip (`1f 8b`).
    Gzip,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// bzip2 (`BZh`).
    Bzip2,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
        })
    }
}

/// The format the first bytes of a stream announce.
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Format::Gzip)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Format::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Format::Zstd)
    } else if head.starts_with(b"BZh") {
        Some(Format::Bzip2)
    } else {
        None
    }
}

/// The format a file name's extension suggests (Tinkerbell's rule).
pub fn from_extension(name: &str) -> Option<Format> {
    let path = name.split(['?', '#']).next().unwrap_or(name);
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "gz" | "gzip" => Format::Gzip,
        "xz" => Format::Xz,
        "zs" | "zst" | "zstd" => Format::Zstd,
        "bz2" | "bzip2" => Format::Bzip2,
        _ => return None,
    })
}

/// Wraps `input` in the decoder for its format (peeking at its first bytes); `hint` is the
/// URL or file name, used when the magic bytes say nothing.
pub fn decoder<'a, R: BufRead + Send + 'a>(
    mut input: R,
    hint: &str,
) -> std::io::Result<(Format, Box<dyn Read + Send + 'a>)> {
    // Fill until we have enough bytes for the longest magic (or the stream ends).
    let head = input.fill_buf()?;
    let format = detect(head).or_else(|| from_extension(hint)).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "COMPRESSED=true but the data starts with {:02x?}, which is none of gzip, xz, zstd, bzip2",
                &head[..head.len().min(6)]
            ),
        )
    })?;
    let reader: Box<dyn Read + Send + 'a> = match format {
        Format::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Format::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                u64::MAX,
                liblzma::stream::CONCATENATED,
            )
            .map_err(std::io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(input, stream))
        }
        Format::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(input)?;
            d.window_log_max(31)?;
            Box::new(d)
        }
        Format::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    };
    Ok((format, reader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(data: &[u8], compressed: Vec<u8>, want: Format) {
        let (f, mut r) =
            decoder(std::io::BufReader::new(compressed.as_slice()), "x").expect("decoder");
        assert_eq!(f, want);
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("decode");
        assert_eq!(out, data);
    }

    #[test]
    fn every_format_by_magic() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).expect("gz");
        let mut gz = gz.finish().expect("gz");
        // a second member, as pigz writes
        let mut gz2 = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz2.write_all(b"tail").expect("gz");
        gz.extend(gz2.finish().expect("gz"));
        let mut with_tail = data.clone();
        with_tail.extend_from_slice(b"tail");
        roundtrip(&with_tail, gz, Format::Gzip);
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&data).expect("xz");
        roundtrip(&data, xz.finish().expect("xz"), Format::Xz);
        roundtrip(
            &data,
            zstd::encode_all(data.as_slice(), 3).expect("zstd"),
            Format::Zstd,
        );
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&data).expect("bz");
        roundtrip(&data, bz.finish().expect("bz"), Format::Bzip2);
    }

    #[test]
    fn unknown_data_is_an_error_unless_the_extension_helps() {
        let err = decoder(std::io::BufReader::new(&b"plain text"[..]), "disk.img")
            .err()
            .expect("error");
        assert!(err.to_string().contains("none of gzip"), "{err}");
        assert_eq!(
            from_extension("http://x/disk.raw.zst?x=1"),
            Some(Format::Zstd)
        );
        assert_eq!(from_extension("http://x/disk.raw"), None);
    }
}
