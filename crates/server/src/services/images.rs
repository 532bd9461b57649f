//! Images (organisation cover and logo, organisation type, user): validated by decoding
//! them whole, so a renamed text file, a truncated PNG or a decompression bomb is refused
//! (400), never stored; kept in the database so every node serves every image.

use std::io::Cursor;

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::{Error, OrganizationId, Result, UserId};
use accord_store::{ImageRecord, Mode};
use image::{ImageFormat, ImageReader, Limits};

use super::identity::UserProfile;
use super::organizations::OrganizationView;
use super::{Actor, Services};

/// Largest accepted image, bytes.
pub const IMAGE_MAX_BYTES: usize = 2 * 1024 * 1024;
const MAX_SIDE: u32 = 8192;
const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgImageKind {
    Cover,
    Logo,
}

/// The content type of a PNG, JPEG, WebP or GIF that decodes completely within limits.
pub fn validate_image(bytes: &[u8]) -> Result<&'static str> {
    if bytes.len() > IMAGE_MAX_BYTES {
        return Err(Error::invalid(format!(
            "images must be at most {IMAGE_MAX_BYTES} bytes"
        )));
    }
    let not_an_image = || Error::invalid("not a PNG, JPEG, WebP or GIF image");
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_an_image())?;
    let content_type = match reader.format() {
        Some(ImageFormat::Png) => "image/png",
        Some(ImageFormat::Jpeg) => "image/jpeg",
        Some(ImageFormat::WebP) => "image/webp",
        Some(ImageFormat::Gif) => "image/gif",
        _ => return Err(not_an_image()),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| Error::invalid(format!("the image does not decode: {e}")))?;
    Ok(content_type)
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &super::tokens::secret_hash_bytes(bytes)[..32])
}

impl Services {
    /// Decodes off the async runtime (a 2 MiB image is a few milliseconds of CPU).
    async fn new_image(&self, owner: String, bytes: Vec<u8>) -> Result<ImageRecord> {
        let (bytes, content_type) =
            tokio::task::spawn_blocking(move || validate_image(&bytes).map(|ct| (bytes, ct)))
                .await
                .map_err(Error::internal)??;
        Ok(ImageRecord {
            id: uuid::Uuid::now_v7().to_string(),
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
        org: &str,
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
        let image = self.new_image(format!("org:{}", org_row.id), bytes).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let (mut org_row, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        let slot = match kind {
            OrgImageKind::Cover => &mut org_row.cover_image_id,
            OrgImageKind::Logo => &mut org_row.logo_image_id,
        };
        if let Some(old) = slot.replace(image.id.clone()) {
            tx.delete_image(&old).await?;
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
    pub async fn organization_image(&self, org: &str, image: &str) -> Result<ImageRecord> {
        let org: OrganizationId = org
            .parse()
            .map_err(|_| Error::not_found("image not found"))?;
        self.image_owned_by(&format!("org:{org}"), image).await
    }

    async fn image_owned_by(&self, owner: &str, image: &str) -> Result<ImageRecord> {
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
        type_id: &str,
        bytes: Vec<u8>,
    ) -> Result<accord_domain::organization::OrganizationType> {
        let standing = OrgStanding::platform(actor.user()?.is_platform_admin);
        if !standing.may(OrgAction::ManageOrganizationTypes) {
            return Err(Error::Forbidden(
                "only platform administrators manage organisation types".into(),
            ));
        }
        let mut t = self.organization_type(type_id).await?;
        let image = self.new_image(format!("type:{}", t.id), bytes).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if let Some(old) = t.image_id.replace(image.id.clone()) {
            tx.delete_image(&old).await?;
        }
        tx.insert_image(&image).await?;
        tx.update_org_type(&t).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn organization_type_image(&self, type_id: &str) -> Result<ImageRecord> {
        let t = self.organization_type(type_id).await?;
        let id = t
            .image_id
            .ok_or_else(|| Error::not_found("this organisation type has no image"))?;
        self.image_owned_by(&format!("type:{}", t.id), &id).await
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
        let image = self.new_image(format!("user:{id}"), bytes).await?;
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
        if let Some(old) = &user.image_id {
            tx.delete_image(old).await?;
        }
        if let Some(image) = &image {
            tx.insert_image(image).await?;
        }
        tx.set_user_image(id, image.as_ref().map(|i| i.id.as_str()))
            .await?;
        let user = tx
            .user_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("user not found"))?;
        let profile = self.profile_of(tx.as_mut(), user, true).await?;
        tx.commit().await?;
        Ok(profile)
    }

    pub async fn user_image(&self, actor: &Actor, user: &str, image: &str) -> Result<ImageRecord> {
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
        assert_eq!(validate_image(&good).unwrap(), "image/png");
        assert!(validate_image(b"hello, I am text").is_err());
        assert!(
            validate_image(&good[..good.len() / 2]).is_err(),
            "truncated"
        );
        assert!(validate_image(&[]).is_err());
        let mut bmp_like = b"BM".to_vec();
        bmp_like.extend_from_slice(&[0; 64]);
        assert!(
            validate_image(&bmp_like).is_err(),
            "formats outside the four are refused"
        );
        assert!(validate_image(&vec![0u8; IMAGE_MAX_BYTES + 1]).is_err());
    }

    #[test]
    fn images_too_large_to_decode_safely_are_refused() {
        // A small file claiming a huge canvas (a decompression bomb).
        let big = png(MAX_SIDE + 1, 1);
        assert!(validate_image(&big).is_err());
    }
}
