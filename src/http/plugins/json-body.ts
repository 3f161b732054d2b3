/**
 * The JSON body parser: Fastify's own protections (prototype-poisoning refusal via secure-json-parse)
 * plus a nesting limit. A body like `[[[[…]]]]` a million deep is small enough to pass the size
 * limit yet costs a deep recursion to parse, validate and store, so depth is checked first, in one
 * linear scan, before anything is parsed.
 */
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../../errors.js';
import { bodyless } from './msgpack.js';

export function installJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      // ekoDB's client sends `DELETE` (delete, deleteCollection) with this Content-Type and no body:
      // where a body is optional, an empty one is no body. A POST or PUT still needs one.
      if (bodyless(request.method)) return done(null, undefined);
      return done(invalidJson('Request body is empty but Content-Type is application/json'), undefined);
    }
    if (nestingExceeds(text, maxDepth)) {
      return done(new ApiError(400, 'json_too_deep', `Request body nests deeper than ${maxDepth} levels`), undefined);
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(invalidJson('Request body is not valid JSON'), undefined);
    }
  });
}

function invalidJson(message: string): ApiError {
  return new ApiError(400, 'invalid_json', message);
}

/** Counts `[`/`{` nesting outside strings; malformed text is left for the parser to refuse. */
export function nestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return false;
}
