//! A page of each company's customers, for a page of companies in one statement.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, DbErr};

use crate::services::insights::companies::{self, CustomerCursor, CustomerPage};

/// Which page of which company's customers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompanyCustomersKey {
    /// The company's key.
    pub company: String,
    /// The page size.
    pub limit: u64,
    /// Where the page starts.
    pub after: Option<CustomerCursor>,
}

/// Loads pages of companies' customers (their ids), one statement for every company asking
/// for the same page (in practice, a whole page of companies).
pub struct CompanyCustomersLoader(pub DatabaseConnection);

impl Loader<CompanyCustomersKey> for CompanyCustomersLoader {
    type Value = CustomerPage;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[CompanyCustomersKey],
    ) -> Result<HashMap<CompanyCustomersKey, Self::Value>, Self::Error> {
        let mut same_page: HashMap<(u64, Option<CustomerCursor>), Vec<String>> = HashMap::new();
        for k in keys {
            same_page
                .entry((k.limit, k.after.clone()))
                .or_default()
                .push(k.company.clone());
        }
        let mut out = HashMap::new();
        for ((limit, after), companies) in same_page {
            let mut pages = companies::customers(&self.0, &companies, limit, after.as_ref())
                .await
                .map_err(Arc::new)?;
            for company in companies {
                let page = pages.remove(&company).unwrap_or_default();
                out.insert(
                    CompanyCustomersKey {
                        company,
                        limit,
                        after: after.clone(),
                    },
                    page,
                );
            }
        }
        Ok(out)
    }
}
