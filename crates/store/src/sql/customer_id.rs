//! CustomerID's view: REST clients, custom attributes, the organisation tree, searches and custom roles.

use super::prelude::*;

#[async_trait]
impl CustomerIdTx for Uow {
    async fn insert_rest_client(&mut self, c: &RestClientRecord) -> Result<()> {
        self.execute(sqlx::query("INSERT INTO rest_clients (id, name, secret_hash, organization_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(c.id.to_string())
            .bind(&c.name)
            .bind(&c.secret_hash)
            .bind(c.organization_id.map(|o| o.to_string()))
            .bind(to_ms(c.created_at))).await.map(|_| ())
    }

    async fn rest_client_by_name(&mut self, name: &str) -> Result<Option<RestClientRecord>> {
        self.fetch_optional(sqlx::query("SELECT id, name, secret_hash, organization_id, created_at FROM rest_clients WHERE name = $1")
            .bind(name))
            .await?
            .as_ref()
            .map(rest_client_from_row)
            .transpose()
    }

    async fn rest_clients(&mut self) -> Result<Vec<RestClientRecord>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, name, secret_hash, organization_id, created_at FROM rest_clients ORDER BY name",
            ))
            .await?;
        rows.iter().map(rest_client_from_row).collect()
    }

    async fn set_rest_client_secret(&mut self, name: &str, secret_hash: &str) -> Result<bool> {
        self.execute(
            sqlx::query("UPDATE rest_clients SET secret_hash = $1 WHERE name = $2")
                .bind(secret_hash)
                .bind(name),
        )
        .await
        .map(|n| n == 1)
    }

    async fn delete_rest_client(&mut self, name: &str) -> Result<bool> {
        self.execute(sqlx::query("DELETE FROM rest_clients WHERE name = $1").bind(name))
            .await
            .map(|n| n == 1)
    }

    async fn user_custom_attributes(&mut self, user: UserId) -> Result<Vec<(String, String)>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT name, value FROM user_attributes WHERE user_id = $1 ORDER BY name, position",
        )
        .bind(user.to_string())).await?;
        rows.iter()
            .map(|r| Ok((r.col("name")?, r.col("value")?)))
            .collect()
    }

    async fn organization_custom_attributes(
        &mut self,
        org: OrganizationId,
    ) -> Result<Vec<(String, String)>> {
        let rows = self.fetch_all(sqlx::query("SELECT name, value FROM organization_attributes WHERE organization_id = $1 ORDER BY name, position")
            .bind(org.to_string())).await?;
        rows.iter()
            .map(|r| Ok((r.col("name")?, r.col("value")?)))
            .collect()
    }

    async fn organization_tree(&mut self) -> Result<Vec<TreeNode>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, parent_id, technical_name, name FROM organizations ORDER BY id",
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TreeNode {
                    id: r.id("id")?,
                    parent_id: r.opt_id("parent_id")?,
                    technical_name: r.col("technical_name")?,
                    name: r.col("name")?,
                })
            })
            .collect()
    }

    async fn search_users(&mut self, search: &Search) -> Result<Vec<UserId>> {
        let mut q = sqlx::QueryBuilder::<DB>::new("SELECT u.id FROM users u WHERE 1 = 1");
        for (field, value) in &search.builtin {
            let column = match field {
                SearchField::UserId => "u.id",
                SearchField::UserFirstName => "u.first_name",
                SearchField::UserSurname => "u.surname",
                SearchField::UserMobile => "u.phone",
                SearchField::UserEmail => "u.email",
                SearchField::UserHomeOrganization => "u.home_organization_id",
                SearchField::UserStatus => {
                    q.push(" AND u.status = ")
                        .push_bind(value.parse::<i64>().unwrap_or(-1));
                    continue;
                }
                _ => return Err(accord_domain::Error::invalid("not a user attribute")),
            };
            push_match(&mut q, column, value, search.exact);
        }
        for (name, value) in &search.custom {
            q.push(
                " AND EXISTS (SELECT 1 FROM user_attributes a WHERE a.user_id = u.id AND a.name = ",
            )
            .push_bind(name.clone());
            push_match(&mut q, "a.value", value, search.exact);
            q.push(")");
        }
        if let Some(within) = &search.within {
            q.push(" AND u.home_organization_id IN (''");
            for org in within {
                q.push(", ").push_bind(org.to_string());
            }
            q.push(")");
        }
        q.push(" ORDER BY u.id");
        if search.max_results > 0 {
            q.push(" LIMIT ").push_bind(search.max_results);
        }
        let rows = self.fetch_all(q.build()).await?;
        rows.iter().map(|r| r.id::<UserId>("id")).collect()
    }

    async fn search_organizations(&mut self, search: &Search) -> Result<Vec<OrganizationId>> {
        let mut q = sqlx::QueryBuilder::<DB>::new(
            "SELECT o.id FROM organizations o LEFT JOIN organization_types t ON t.id = o.type_id WHERE 1 = 1",
        );
        for (field, value) in &search.builtin {
            let column = match field {
                SearchField::OrgId => "o.id",
                SearchField::OrgTechnicalName => "COALESCE(o.technical_name, o.id)",
                SearchField::OrgFriendlyName => "o.name",
                SearchField::OrgTypeName => "t.name",
                _ => {
                    return Err(accord_domain::Error::invalid(
                        "not an organization attribute",
                    ))
                }
            };
            push_match(&mut q, column, value, search.exact);
        }
        for (name, value) in &search.custom {
            q.push(" AND EXISTS (SELECT 1 FROM organization_attributes a WHERE a.organization_id = o.id AND a.name = ")
                .push_bind(name.clone());
            push_match(&mut q, "a.value", value, search.exact);
            q.push(")");
        }
        if let Some(within) = &search.within {
            q.push(" AND o.id IN (''");
            for org in within {
                q.push(", ").push_bind(org.to_string());
            }
            q.push(")");
        }
        q.push(" ORDER BY o.id");
        if search.max_results > 0 {
            q.push(" LIMIT ").push_bind(search.max_results);
        }
        let rows = self.fetch_all(q.build()).await?;
        rows.iter().map(|r| r.id::<OrganizationId>("id")).collect()
    }

    async fn custom_roles(&mut self) -> Result<Vec<accord_domain::customer_id::Role>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, organization_id, name FROM roles ORDER BY id",
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(accord_domain::customer_id::Role {
                    id: r.id("id")?,
                    organization_id: r.id("organization_id")?,
                    name: r.col("name")?,
                })
            })
            .collect()
    }

    async fn custom_roles_of(&mut self, user: UserId) -> Result<Vec<RoleId>> {
        let rows = self
            .fetch_all(
                sqlx::query("SELECT role_id FROM role_members WHERE user_id = $1 ORDER BY role_id")
                    .bind(user.to_string()),
            )
            .await?;
        rows.iter().map(|r| r.id("role_id")).collect()
    }

    async fn set_organization_attribute(
        &mut self,
        org: OrganizationId,
        name: &str,
        values: &[String],
    ) -> Result<()> {
        self.replace_attribute(
            "organization_attributes",
            "organization_id",
            &org.to_string(),
            name,
            values,
        )
        .await
    }

    async fn update_user_identity(&mut self, u: &User) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE users SET email = $1, email_key = $2, name = $3, phone = $4, status = $5, first_name = $6, \
             surname = $7, home_organization_id = $8 WHERE id = $9",
        )
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.email.as_ref().map(Email::key))
        .bind(&u.name)
        .bind(&u.phone)
        .bind(u.status.code())
        .bind(&u.first_name)
        .bind(&u.surname)
        .bind(u.home_organization_id.map(|o| o.to_string()))
        .bind(u.id.to_string())).await.map(|_| ())
    }

    async fn set_user_attribute(
        &mut self,
        user: UserId,
        name: &str,
        values: &[String],
    ) -> Result<()> {
        self.replace_attribute(
            "user_attributes",
            "user_id",
            &user.to_string(),
            name,
            values,
        )
        .await
    }

    async fn insert_role(
        &mut self,
        role: &accord_domain::customer_id::Role,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO roles (id, organization_id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(role.id.to_string())
            .bind(role.organization_id.to_string())
            .bind(&role.name)
            .bind(to_ms(at)),
        )
        .await
        .map(|_| ())
    }

    async fn delete_role(&mut self, id: RoleId) -> Result<bool> {
        // Invitations and mandates to a role that is gone would grant nothing.
        for sql in [
            "DELETE FROM role_invitations WHERE role_id = $1",
            "DELETE FROM mandates WHERE role_id = $1",
        ] {
            self.execute(sqlx::query(sql).bind(id.to_string())).await?;
        }
        self.execute(sqlx::query("DELETE FROM roles WHERE id = $1").bind(id.to_string()))
            .await
            .map(|n| n > 0)
    }

    async fn add_role_member(&mut self, role: RoleId, user: UserId) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO role_members (role_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(role.to_string())
        .bind(user.to_string())).await.map(|_| ())
    }

    async fn remove_role_member(&mut self, role: RoleId, user: UserId) -> Result<bool> {
        self.execute(
            sqlx::query("DELETE FROM role_members WHERE role_id = $1 AND user_id = $2")
                .bind(role.to_string())
                .bind(user.to_string()),
        )
        .await
        .map(|n| n > 0)
    }
}

impl Uow {
    /// Replaces an entity's custom attribute values (`table` and `key_column` are ours,
    /// never a client's).
    async fn replace_attribute(
        &mut self,
        table: &str,
        key_column: &str,
        key: &str,
        name: &str,
        values: &[String],
    ) -> Result<()> {
        self.execute(
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE {key_column} = $1 AND name = $2"
            ))
            .bind(key)
            .bind(name),
        )
        .await?;
        for (position, value) in values.iter().enumerate() {
            self.execute(
                sqlx::query(&format!(
                "INSERT INTO {table} ({key_column}, name, position, value) VALUES ($1, $2, $3, $4)"
            ))
                .bind(key)
                .bind(name)
                .bind(position as i64)
                .bind(value),
            )
            .await?;
        }
        Ok(())
    }
}

/// `column` matches `value` case-insensitively: equal, or starting with it. `%`, `_` and
/// `\` in the value are literal.
fn push_match(q: &mut sqlx::QueryBuilder<'_, DB>, column: &str, value: &str, exact: bool) {
    let lowered = value.to_lowercase();
    if exact {
        q.push(format!(" AND LOWER({column}) = "))
            .push_bind(lowered);
    } else {
        let escaped = lowered
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        q.push(format!(" AND LOWER({column}) LIKE "))
            .push_bind(format!("{escaped}%"))
            .push(" ESCAPE '\\'");
    }
}

fn rest_client_from_row(r: &DbRow) -> Result<RestClientRecord> {
    Ok(RestClientRecord {
        id: r.id("id")?,
        name: r.col("name")?,
        secret_hash: r.col("secret_hash")?,
        organization_id: r.opt_id("organization_id")?,
        created_at: r.time("created_at")?,
    })
}
