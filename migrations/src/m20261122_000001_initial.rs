//! Findings, ticket links, outbox, poll cursors, leases and the audit trail.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Findings {
    Table,
    Id,
    FindingKey,
    Source,
    Kind,
    CheckId,
    Subject,
    Title,
    Severity,
    Status,
    ResolvedBy,
    Decision,
    Occurrences,
    FirstSeen,
    LastSeen,
    Rule,
    Profile,
    Payload,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TicketLinks {
    Table,
    Id,
    FindingId,
    TableName,
    CorrelationId,
    SysId,
    Number,
    State,
    SysModCount,
    SysUpdatedOn,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    FindingId,
    Seq,
    Op,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedBy,
    LockedUntil,
    LastError,
    MaybeApplied,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PollCursors {
    Table,
    TableName,
    Watermark,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Leases {
    Table,
    Name,
    Holder,
    Token,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Audit {
    Table,
    Id,
    FindingId,
    Event,
    FromStatus,
    ToStatus,
    Actor,
    Detail,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Findings::Table)
                    .col(big_pk_auto(Findings::Id))
                    .col(text(Findings::FindingKey))
                    .col(string(Findings::Source))
                    .col(string(Findings::Kind))
                    .col(text(Findings::CheckId))
                    .col(text(Findings::Subject))
                    .col(text(Findings::Title))
                    .col(string(Findings::Severity))
                    .col(
                        string(Findings::Status).check(Expr::col(Findings::Status).is_in([
                            "open",
                            "escalated",
                            "resolved",
                        ])),
                    )
                    .col(string_null(Findings::ResolvedBy))
                    .col(string_null(Findings::Decision))
                    .col(big_integer(Findings::Occurrences).default(1))
                    .col(timestamp_with_time_zone(Findings::FirstSeen))
                    .col(timestamp_with_time_zone(Findings::LastSeen))
                    .col(string_null(Findings::Rule))
                    .col(string_null(Findings::Profile))
                    .col(json_binary(Findings::Payload))
                    .col(timestamp_with_time_zone(Findings::CreatedAt))
                    .col(timestamp_with_time_zone(Findings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Architecture invariant: at most one open (or escalated) finding per key. A resolved
        // finding may be followed by a new one for the same key.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_findings_open_key ON findings (finding_key) WHERE status <> 'resolved'",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_findings_key")
                    .table(Findings::Table)
                    .col(Findings::FindingKey)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TicketLinks::Table)
                    .col(big_pk_auto(TicketLinks::Id))
                    // Architecture invariant: at most one ticket link per finding.
                    .col(big_integer_uniq(TicketLinks::FindingId))
                    .col(string(TicketLinks::TableName))
                    .col(string(TicketLinks::CorrelationId))
                    .col(string_null(TicketLinks::SysId))
                    .col(string_null(TicketLinks::Number))
                    .col(string_null(TicketLinks::State))
                    .col(big_integer_null(TicketLinks::SysModCount))
                    .col(string_null(TicketLinks::SysUpdatedOn))
                    .col(timestamp_with_time_zone(TicketLinks::CreatedAt))
                    .col(timestamp_with_time_zone(TicketLinks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ticket_links_finding")
                            .from(TicketLinks::Table, TicketLinks::FindingId)
                            .to(Findings::Table, Findings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ticket_links_table_sys_id")
                    .table(TicketLinks::Table)
                    .col(TicketLinks::TableName)
                    .col(TicketLinks::SysId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ticket_links_correlation")
                    .table(TicketLinks::Table)
                    .col(TicketLinks::CorrelationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Id))
                    .col(big_integer(Outbox::FindingId))
                    .col(big_integer(Outbox::Seq))
                    .col(string(Outbox::Op))
                    .col(json_binary(Outbox::Payload))
                    .col(
                        string(Outbox::Status).check(Expr::col(Outbox::Status).is_in([
                            "pending",
                            "in_flight",
                            "done",
                            "dead",
                        ])),
                    )
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(string_null(Outbox::LockedBy))
                    .col(timestamp_with_time_zone_null(Outbox::LockedUntil))
                    .col(text_null(Outbox::LastError))
                    // Set when an attempt may have reached ServiceNow without an answer (a
                    // timeout, a 5xx after commit, a lease taken over): the next create looks
                    // the correlation id up before creating again.
                    .col(boolean(Outbox::MaybeApplied).default(false))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone(Outbox::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_finding")
                            .from(Outbox::Table, Outbox::FindingId)
                            .to(Findings::Table, Findings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Architecture invariant: outbox rows are ordered per finding by `seq`.
        manager
            .create_index(
                Index::create()
                    .name("ux_outbox_finding_seq")
                    .table(Outbox::Table)
                    .col(Outbox::FindingId)
                    .col(Outbox::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::Status)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PollCursors::Table)
                    .col(string(PollCursors::TableName).primary_key())
                    .col(string(PollCursors::Watermark))
                    .col(timestamp_with_time_zone(PollCursors::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .col(string(Leases::Name).primary_key())
                    .col(string(Leases::Holder))
                    .col(big_integer(Leases::Token))
                    .col(timestamp_with_time_zone(Leases::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Audit::Table)
                    .col(big_pk_auto(Audit::Id))
                    .col(big_integer(Audit::FindingId))
                    .col(string(Audit::Event))
                    .col(string_null(Audit::FromStatus))
                    .col(string(Audit::ToStatus))
                    .col(string(Audit::Actor))
                    .col(text_null(Audit::Detail))
                    .col(timestamp_with_time_zone(Audit::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_finding")
                            .from(Audit::Table, Audit::FindingId)
                            .to(Findings::Table, Findings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_finding")
                    .table(Audit::Table)
                    .col(Audit::FindingId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Audit::Table.into_iden(),
            Leases::Table.into_iden(),
            PollCursors::Table.into_iden(),
            Outbox::Table.into_iden(),
            TicketLinks::Table.into_iden(),
            Findings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
