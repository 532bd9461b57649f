//! QR codes for subscribing to an organisation or to one of its purposes (iGrant.io's
//! v2.1.2 OpenAPI; docs/igrant.md, "QR codes"). The Admin generates and deletes them; a
//! generated one is shown to anyone (its `/web` form without signing in: it is made to be
//! printed or put on a web page). The picture encodes the public URL of the organisation
//! or purpose, which a person's app reads with their own credential before subscribing.

use std::io::Cursor;

use accord_domain::access::OrgAction;
use accord_domain::{Error, OrganizationId, PurposeId, Result};
use accord_store::{Mode, Tx};
use image::{ImageFormat, Luma};
use qrcode::{EcLevel, QrCode};

use super::{Actor, Services};

/// Pixels on a side at least: readable from a poster and a phone screen alike.
const SIDE: u32 = 320;

fn not_found() -> Error {
    Error::not_found("QR code does not exist")
}

impl Services {
    /// What a QR code encodes: the organisation's or purpose's URL on this server.
    fn qr_target(&self, org: OrganizationId, purpose: Option<PurposeId>) -> String {
        let base = format!("{}/v1/organizations/{org}", self.config.public_url);
        match purpose {
            Some(p) => format!("{base}/purposes/{p}"),
            None => base,
        }
    }

    /// The purpose, when one is named, must be a live purpose of the organisation.
    async fn qr_subject_exists(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<()> {
        let Some(p) = purpose else { return Ok(()) };
        if tx.purposes_of(org).await?.iter().any(|x| x.id == p) {
            Ok(())
        } else {
            Err(Error::not_found("purpose not found"))
        }
    }

    /// `POST …/qrcode`: generates (or keeps) the code and answers its picture (Admin).
    pub async fn generate_qr_code(
        &self,
        actor: &Actor,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<Vec<u8>> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "generate QR codes",
            )
            .await?;
        self.qr_subject_exists(tx.as_mut(), org.id, purpose).await?;
        tx.put_qr_code(org.id, purpose, self.clock.now()).await?;
        tx.commit().await?;
        draw(&self.qr_target(org.id, purpose))
    }

    /// `GET …/qrcode` (any signed-in caller) and `GET …/qrcode/web` (anyone): the picture
    /// of a generated code; 404 until the Admin generates it or after they delete it.
    pub async fn qr_code(
        &self,
        actor: Option<&Actor>,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<Vec<u8>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        if let Some(actor) = actor {
            actor.user()?;
        }
        tx.organization_by_id(org)
            .await?
            .ok_or_else(|| Error::not_found("organisation not found"))?;
        self.qr_subject_exists(tx.as_mut(), org, purpose).await?;
        let generated = tx.has_qr_code(org, purpose).await?;
        tx.commit().await?;
        if !generated {
            return Err(not_found());
        }
        draw(&self.qr_target(org, purpose))
    }

    /// `DELETE …/qrcode` (Admin): the code is no longer shown.
    pub async fn delete_qr_code(
        &self,
        actor: &Actor,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "delete QR codes",
            )
            .await?;
        if !tx.delete_qr_code(org.id, purpose).await? {
            return Err(not_found());
        }
        tx.commit().await
    }
}

/// A PNG of the QR code for `text` (error correction M: a smudged print still reads).
fn draw(text: &str) -> Result<Vec<u8>> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|e| Error::internal(format!("QR code: {e}")))?;
    let picture = code.render::<Luma<u8>>().min_dimensions(SIDE, SIDE).build();
    let mut png = Cursor::new(Vec::new());
    picture
        .write_to(&mut png, ImageFormat::Png)
        .map_err(|e| Error::internal(format!("QR code: {e}")))?;
    Ok(png.into_inner())
}
