//! Uploaded images (logos, covers, avatars).

use super::prelude::*;

/// An image as stored: bytes, sniffed content type, and who it belongs to
/// (`org:<id>`, `user:<id>`, `type:<id>`).
#[derive(Clone)]
pub struct ImageRecord {
    pub id: ImageId,
    pub owner: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub etag: String,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait ImagesTx: Send {
    async fn insert_image(&mut self, image: &ImageRecord) -> Result<()>;
    async fn image_by_id(&mut self, id: ImageId) -> Result<Option<ImageRecord>>;
    async fn delete_image(&mut self, id: ImageId) -> Result<()>;
    async fn set_user_image(&mut self, user: UserId, image_id: Option<ImageId>) -> Result<()>;
}
