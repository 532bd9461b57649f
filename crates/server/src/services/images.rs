//! Images (organisation cover and logo, organisation type, user): validated by decoding
//! them whole, so a renamed text file, a truncated PNG or a decompression bomb is refused
//! (400), never stored; then **re-encoded**, so what is stored and served is pixels only:
//! no trailing bytes (a PNG with HTML after its end), no metadata (EXIF, GPS included).
//! Kept in the database so every node serves every image.
//!
//! Work per upload is bounded (docs/security.md, "Bounded work"): the dimensions are read
//! from the header before anything is decoded, decoding is capped well below what a
//! bomb asks for, at most one decode per core runs at a time, and each account may
//! upload only so many images per window.

use std::io::Cursor;

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::throttle::ThrottlePolicy;
use accord_domain::{Error, ImageId, OrganizationId, OrganizationTypeId, Result, UserId};
use accord_store::{ImageRecord, Mode};
use image::{ImageFormat, ImageReader, Limits};

use super::identity::UserProfile;
use super::organizations::OrganizationView;
use super::{Actor, Services};

/// Largest accepted image, bytes.
pub const IMAGE_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Largest side, and largest area (16 megapixels: 64 MiB of RGBA at most).
const MAX_SIDE: u32 = 8192;
const MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// What one decode may allocate (the pixels and the decoder's buffers).
const MAX_DECODE_ALLOC: u64 = 80 * 1024 * 1024;
/// Uploads per account and 15 minutes (then 429).
pub const UPLOADS_PER_ACCOUNT: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgImageKind {
    Cover,
    Logo,
}

/// A PNG, JPEG, WebP or GIF that decodes completely within limits, re-encoded from its
/// pixels alone: JPEG as JPEG, the others as PNG (a GIF keeps its first frame). Returns
/// the new bytes and their content type.
pub fn reencode_image(bytes: &[u8]) -> Result<(Vec<u8>, &'static str)> {
    if bytes.len() > IMAGE_MAX_BYTES {
        return Err(Error::invalid(format!(
            "images must be at most {IMAGE_MAX_BYTES} bytes"
        )));
    }
    let not_an_image = || Error::invalid("not a PNG, JPEG, WebP or GIF image");
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|_| not_an_image())
    };
    let format = reader()?.format();
    if !matches!(
        format,
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)
    ) {
        return Err(not_an_image());
    }
    // The header alone first: a bomb is refused before a byte of it is decoded.
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| Error::invalid(format!("the image does not decode: {e}")))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Error::invalid(format!(
            "images must be at most {MAX_SIDE} pixels a side and {MAX_PIXELS} pixels in all \
             (this one is {width}×{height})"
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = reader()?;
    reader.limits(limits);
    let pixels = reader
        .decode()
        .map_err(|e| Error::invalid(format!("the image does not decode: {e}")))?;
    let mut out = Cursor::new(Vec::new());
    let content_type = if format == Some(ImageFormat::Jpeg) {
        let rgb = image::DynamicImage::ImageRgb8(pixels.to_rgb8());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&rgb)
            .map_err(Error::internal)?;
        "image/jpeg"
    } else {
        pixels
            .write_to(&mut out, ImageFormat::Png)
            .map_err(Error::internal)?;
        "image/png"
    };
    Ok((out.into_inner(), content_type))
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &super::tokens::secret_hash_bytes(bytes)[..32])
}

impl Services {
    /// Re-encodes off the async runtime, one image per core at a time; counted against
    /// the uploader's account first.
    async fn new_image(
        &self,
        uploader: &Actor,
        owner: String,
        bytes: Vec<u8>,
    ) -> Result<ImageRecord> {
        let account = uploader.user()?.user_id;
        self.charge(
            &format!("upload:{account}"),
            &ThrottlePolicy::per_address(UPLOADS_PER_ACCOUNT),
        )
        .await?;
        let _decoding = self
            .image_decodes
            .acquire()
            .await
            .map_err(Error::internal)?;
        let (bytes, content_type) = tokio::task::spawn_blocking(move || reencode_image(&bytes))
            .await
            .map_err(Error::internal)??;
        Ok(ImageRecord {
            id: ImageId::new(),
            owner,
            content_type: content_type.to_owned(),
            etag: etag(&bytes),
            data: bytes,
            created_at: self.clock.now(),
        })
    }

    /// Replaces an organisation's cover or logo (Admin).
    pub async fn set_organization_image(
        &self,
        actor: &Actor,
        org: OrganizationId,
        kind: OrgImageKind,
        bytes: Vec<u8>,
    ) -> Result<OrganizationView> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org_row, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        tx.commit().await?;
        if !standing.may(accord_domain::access::OrgAction::Configure) {
            return Err(Error::Forbidden(
                "you may not change the images of this organisation".into(),
            ));
        }
        let image = self
            .new_image(actor, format!("org:{}", org_row.id), bytes)
            .await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let (mut org_row, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        let slot = match kind {
            OrgImageKind::Cover => &mut org_row.cover_image_id,
            OrgImageKind::Logo => &mut org_row.logo_image_id,
        };
        if let Some(old) = slot.replace(image.id) {
            tx.delete_image(old).await?;
        }
        tx.insert_image(&image).await?;
        tx.update_organization(&org_row).await?;
        let view = self
            .organization_view(tx.as_mut(), org_row, &standing)
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// An organisation's image: public, like a logo on a consent page.
    pub async fn organization_image(&self, org: &str, image: ImageId) -> Result<ImageRecord> {
        let org: OrganizationId = org
            .parse()
            .map_err(|_| Error::not_found("image not found"))?;
        self.image_owned_by(&format!("org:{org}"), image).await
    }

    async fn image_owned_by(&self, owner: &str, image: ImageId) -> Result<ImageRecord> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let found = tx.image_by_id(image).await?;
        tx.commit().await?;
        found
            .filter(|i| i.owner == owner)
            .ok_or_else(|| Error::not_found("image not found"))
    }

    /// Sets an organisation type's image (platform admins).
    pub async fn set_organization_type_image(
        &self,
        actor: &Actor,
        type_id: OrganizationTypeId,
        bytes: Vec<u8>,
    ) -> Result<accord_domain::organization::OrganizationType> {
        let standing = OrgStanding::platform(actor.user()?.is_platform_admin);
        if !standing.may(OrgAction::ManageOrganizationTypes) {
            return Err(Error::Forbidden(
                "only platform administrators manage organisation types".into(),
            ));
        }
        let mut t = self.organization_type(type_id).await?;
        let image = self
            .new_image(actor, format!("type:{}", t.id), bytes)
            .await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if let Some(old) = t.image_id.replace(image.id) {
            tx.delete_image(old).await?;
        }
        tx.insert_image(&image).await?;
        tx.update_org_type(&t).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn organization_type_image(
        &self,
        type_id: OrganizationTypeId,
    ) -> Result<ImageRecord> {
        let t = self.organization_type(type_id).await?;
        let id = t
            .image_id
            .ok_or_else(|| Error::not_found("this organisation type has no image"))?;
        self.image_owned_by(&format!("type:{}", t.id), id).await
    }

    /// The user's own image only: someone else's is "not found".
    fn own_user(actor: &Actor, user: &str) -> Result<UserId> {
        let me = actor.user()?;
        match user.parse::<UserId>() {
            Ok(id) if id == me.user_id => Ok(id),
            _ => Err(Error::not_found("user not found")),
        }
    }

    pub async fn set_user_image(
        &self,
        actor: &Actor,
        user: &str,
        bytes: Vec<u8>,
    ) -> Result<UserProfile> {
        let id = Self::own_user(actor, user)?;
        let image = self.new_image(actor, format!("user:{id}"), bytes).await?;
        self.replace_user_image(id, Some(image)).await
    }

    pub async fn delete_user_image(&self, actor: &Actor, user: &str) -> Result<UserProfile> {
        let id = Self::own_user(actor, user)?;
        self.replace_user_image(id, None).await
    }

    async fn replace_user_image(
        &self,
        id: UserId,
        image: Option<ImageRecord>,
    ) -> Result<UserProfile> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let user = tx
            .user_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("user not found"))?;
        if let Some(old) = user.image_id {
            tx.delete_image(old).await?;
        }
        if let Some(image) = &image {
            tx.insert_image(image).await?;
        }
        tx.set_user_image(id, image.as_ref().map(|i| i.id)).await?;
        let user = tx
            .user_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("user not found"))?;
        let profile = self.profile_of(tx.as_mut(), user, true).await?;
        tx.commit().await?;
        Ok(profile)
    }

    pub async fn user_image(
        &self,
        actor: &Actor,
        user: &str,
        image: ImageId,
    ) -> Result<ImageRecord> {
        let id = Self::own_user(actor, user)?;
        self.image_owned_by(&format!("user:{id}"), image).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn whole_images_pass_and_everything_else_fails() {
        let good = png(16, 16);
        assert_eq!(reencode_image(&good).unwrap().1, "image/png");
        assert!(reencode_image(b"hello, I am text").is_err());
        assert!(
            reencode_image(&good[..good.len() / 2]).is_err(),
            "truncated"
        );
        assert!(reencode_image(&[]).is_err());
        let mut bmp_like = b"BM".to_vec();
        bmp_like.extend_from_slice(&[0; 64]);
        assert!(
            reencode_image(&bmp_like).is_err(),
            "formats outside the four are refused"
        );
        assert!(reencode_image(&vec![0u8; IMAGE_MAX_BYTES + 1]).is_err());
    }

    #[test]
    fn images_too_large_to_decode_safely_are_refused_from_their_header() {
        // Small files claiming a huge canvas (decompression bombs).
        assert!(reencode_image(&png(MAX_SIDE + 1, 1)).is_err());
        let err = reencode_image(&png(4097, 4097)).unwrap_err();
        assert!(err.to_string().contains("4097×4097"), "{err}");
        assert!(
            reencode_image(&png(4096, 4096)).is_ok(),
            "16 megapixels pass"
        );
    }

    #[test]
    fn trailing_bytes_and_metadata_are_not_kept() {
        let mut polyglot = png(8, 8);
        let clean_len = polyglot.len();
        polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let (stored, ty) = reencode_image(&polyglot).unwrap();
        assert_eq!(ty, "image/png");
        assert!(!stored.windows(5).any(|w| w == b"<html"));
        assert!(stored.len() <= clean_len + 64);
        // A JPEG with an EXIF segment holding a GPS position.
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
        let mut jpeg = Cursor::new(Vec::new());
        img.write_to(&mut jpeg, ImageFormat::Jpeg).unwrap();
        let jpeg = with_exif(&jpeg.into_inner());
        assert!(jpeg.windows(8).any(|w| w == b"GPSLat52"));
        let (stored, ty) = reencode_image(&jpeg).unwrap();
        assert_eq!(ty, "image/jpeg");
        assert!(!stored.windows(4).any(|w| w == b"Exif"));
        assert!(!stored.windows(8).any(|w| w == b"GPSLat52"));
    }

    /// A JPEG with an APP1 "Exif" segment right after its start marker.
    pub(crate) fn with_exif(jpeg: &[u8]) -> Vec<u8> {
        let payload = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0GPSLat52.5200N";
        let len = (payload.len() + 2) as u16;
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }
}
