/**
 * The store database schema, version 10, exactly as Nix 2.8 creates it
 * (store-layout.md 3.2), and the in-place upgrades from versions 6-9.
 * The version lives in the text file `db/schema`, not in SQLite.
 */
export const SCHEMA_VERSION = 10;
/** Oldest schema Nix 2.8 still upgrades. */
export const OLDEST_UPGRADABLE_SCHEMA = 6;

export const SCHEMA_SQL = `
create table if not exists ValidPaths (
    id               integer primary key autoincrement not null,
    path             text unique not null,
    hash             text not null,
    registrationTime integer not null,
    deriver          text,
    narSize          integer,
    ultimate         integer,
    sigs             text,
    ca               text
);

create table if not exists Refs (
    referrer  integer not null,
    reference integer not null,
    primary key (referrer, reference),
    foreign key (referrer) references ValidPaths(id) on delete cascade,
    foreign key (reference) references ValidPaths(id) on delete restrict
);

create index if not exists IndexReferrer on Refs(referrer);
create index if not exists IndexReference on Refs(reference);

create trigger if not exists DeleteSelfRefs before delete on ValidPaths
  begin
    delete from Refs where referrer = old.id and reference = old.id;
  end;

create table if not exists DerivationOutputs (
    drv  integer not null,
    id   text not null,
    path text not null,
    primary key (drv, id),
    foreign key (drv) references ValidPaths(id) on delete cascade
);

create index if not exists IndexDerivationOutputs on DerivationOutputs(path);
`;

/** SQL that brings a database at `version` (6..9) up to 10. */
export function upgradeSteps(version: number): string[] {
  const steps: string[] = [];
  if (version < 8) {
    steps.push("alter table ValidPaths add column ultimate integer", "alter table ValidPaths add column sigs text");
  }
  if (version < 9) steps.push("drop table if exists FailedPaths");
  if (version < 10) steps.push("alter table ValidPaths add column ca text");
  return steps;
}
