/**
 * A key's collection permissions (seed 003's shapes, CONTRACT.md §5 "Permissions"): per collection
 * name (`users`, `<db>.users`, `<db>.*`, `*`), either a list of levels or an object with levels and
 * field rules. The shape is checked here; what it means (no level but field rules, a field both
 * selected and excluded, two spellings of one collection) is checked by `auth/grants.ts`.
 */
import { Type, type Static } from 'typebox';

export const PERMISSION_LEVELS = ['read', 'write', 'delete'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];
export const PermissionLevel = Type.Unsafe<PermissionLevel>(Type.Union(PERMISSION_LEVELS.map((level) => Type.Literal(level))));

const FieldNames = Type.Union([Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 }), Type.Null()]);

export const CollectionRules = Type.Object({
  read: Type.Optional(Type.Boolean()),
  write: Type.Optional(Type.Boolean()),
  delete: Type.Optional(Type.Boolean()),
  select_fields: Type.Optional(FieldNames),
  exclude_fields: Type.Optional(FieldNames),
  writable_fields: Type.Optional(FieldNames),
}, { additionalProperties: false, description: 'Levels, and field rules that shape what read (select_fields, exclude_fields) and write (writable_fields) allow' });

export const CollectionGrant = Type.Union([
  // Levels are typed as PermissionLevel but checked by `auth/grants.ts`, whose refusal names the
  // unknown level (400 invalid_permissions: `Unknown permission level "admin" …`).
  Type.Unsafe<PermissionLevel[]>(Type.Array(Type.String({ maxLength: 16 }), { maxItems: 16, description: 'Levels: "read", "write", "delete" (anything else: 400 invalid_permissions); [] denies the collection' })),
  CollectionRules,
]);

export const CollectionPermissions = Type.Record(Type.String({ maxLength: 200 }), CollectionGrant, {
  description: 'collection (`users`, `<db>.users`, `<db>.*`, `*`) → ["read","write","delete"] or { read, write, delete, select_fields, exclude_fields, writable_fields }',
});

export type CollectionRules = Static<typeof CollectionRules>;
export type CollectionGrant = Static<typeof CollectionGrant>;
export type CollectionPermissions = Static<typeof CollectionPermissions>;
