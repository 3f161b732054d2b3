/**
 * Two validators, one per kind of input. Query strings and path parameters arrive as text, so Ajv
 * coerces them (`?limit=5` is the integer 5; a repeated key is an array). A body arrives typed
 * (JSON, msgpack): its types are the client's, and `"5"` where an integer belongs is refused, never
 * turned into 5 — so what is stored or compared is what was sent, and a body validated here means
 * the same to every reader.
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type BuildValidator = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>;

const COMMON = { removeAdditional: false, allErrors: false } as const;

export function validatorOptions(): Pick<FastifyServerOptions, 'ajv' | 'schemaController'> {
  const factory = AjvCompiler();
  const buildValidator: BuildValidator = (externalSchemas, ajvServerOptions) => {
    const plugins = (ajvServerOptions as { plugins?: unknown[] } | undefined)?.plugins ?? [];
    const text = factory(externalSchemas, { customOptions: { ...COMMON, coerceTypes: 'array' }, plugins } as never);
    const typed = factory(externalSchemas, { customOptions: { ...COMMON, coerceTypes: false }, plugins } as never);
    return (route) => (route.httpPart === 'body' ? typed(route) : text(route));
  };
  return {
    ajv: { customOptions: { ...COMMON, coerceTypes: 'array' } },
    schemaController: { compilersFactory: { buildValidator } },
  };
}
