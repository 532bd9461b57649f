//! Uploaded images (logos, covers, avatars).

use super::prelude::*;

#[async_trait]
impl ImagesTx for Uow {
    async fn insert_image(&mut self, i: &ImageRecord) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO images (id, owner, content_type, data, etag, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(i.id.to_string())
        .bind(&i.owner)
        .bind(&i.content_type)
        .bind(&i.data)
        .bind(&i.etag)
        .bind(to_ms(i.created_at))).await.map(|_| ())
    }

    async fn image_by_id(&mut self, id: ImageId) -> Result<Option<ImageRecord>> {
        let Some(row) = self.fetch_optional(sqlx::query(
            "SELECT id, owner, content_type, data, etag, created_at FROM images WHERE id = $1",
        )
        .bind(id.to_string())).await?
        else {
            return Ok(None);
        };
        Ok(Some(ImageRecord {
            id: row.id("id")?,
            owner: row.col("owner")?,
            content_type: row.col("content_type")?,
            data: row.col("data")?,
            etag: row.col("etag")?,
            created_at: row.time("created_at")?,
        }))
    }

    async fn delete_image(&mut self, id: ImageId) -> Result<()> {
        self.execute(sqlx::query("DELETE FROM images WHERE id = $1").bind(id.to_string()))
            .await
            .map(|_| ())
    }

    async fn set_user_image(&mut self, user: UserId, image_id: Option<ImageId>) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET image_id = $1 WHERE id = $2")
                .bind(image_id.map(|i| i.to_string()))
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }
}
