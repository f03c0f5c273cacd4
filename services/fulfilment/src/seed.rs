//! Partners for the dev run and demos: one logistics and one repair partner covering the
//! metro pincodes the storefront examples use. Ids derive from the names, so loading twice
//! (every `make run`) finds them instead of registering duplicates, and the tokens the dev
//! run prints stay valid across restarts.

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::domain::PartnerKind;
use crate::store::{self, NewPartner, StoreError};

/// The pincodes both seed partners serve: central Bengaluru, Mumbai, Delhi, Chennai,
/// Hyderabad, Pune and Kolkata.
pub const SEED_PINCODES: [&str; 7] = [
    "110001", "400001", "411001", "500001", "560001", "600001", "700001",
];

pub struct SeedPartner {
    pub id: Uuid,
    pub name: &'static str,
    pub kind: PartnerKind,
}

const NAMES: [(&str, PartnerKind); 2] = [
    ("Swift Pickups (seed)", PartnerKind::Logistics),
    ("FixRight Labs (seed)", PartnerKind::Repair),
];

/// The seed partners, whether loaded yet or not.
pub fn partners() -> Vec<SeedPartner> {
    NAMES
        .iter()
        .map(|(name, kind)| SeedPartner {
            id: Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("recommerce-seed-partner:{name}").as_bytes(),
            ),
            name,
            kind: *kind,
        })
        .collect()
}

/// Registers the seed partners that are missing; returns how many were created.
pub async fn load(db: &DatabaseConnection) -> Result<usize, StoreError> {
    let mut pincodes = SEED_PINCODES.to_vec();
    pincodes.sort_unstable();
    let mut created = 0;
    for partner in partners() {
        if store::partner(db, partner.id).await?.is_some() {
            continue;
        }
        store::insert_partner(
            db,
            NewPartner {
                id: partner.id,
                name: partner.name.to_owned(),
                kind: partner.kind,
                pincodes: pincodes
                    .iter()
                    .map(|pincode| (*pincode).to_owned())
                    .collect(),
                daily_capacity: 1_000,
                active: true,
            },
        )
        .await?;
        created += 1;
    }
    Ok(created)
}
