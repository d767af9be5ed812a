import * as z from 'zod';
import { type JsonSchema, jsonSchemaOf } from './fields.js';
import { relConfigSchema } from './schema.js';

// The JSON Schema of rel.config.yaml, made from the schema the loader reads the file with (schema.ts): shipped as
// `@rel/release/rel.config.schema.json` for editors (`# yaml-language-server: $schema=...`), and checked current
// by json-schema.test.ts. Nothing of it runs when rel loads a config.

/** A field's or section's own JSON Schema (fields.ts); anything else as zod derives it. */
function render(schema: z.ZodType): JsonSchema {
  const own = jsonSchemaOf.get(schema);
  if (own) return own(render);
  const { $schema: _, ...json } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    override: (ctx) => {
      const nested = jsonSchemaOf.get(ctx.zodSchema as unknown as z.ZodType);
      if (!nested) return;
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as JsonSchema)[key];
      Object.assign(ctx.jsonSchema, nested(render));
    },
  }) as JsonSchema;
  return json;
}

/** The JSON Schema (draft 2020-12) of rel.config.yaml. */
export function configJsonSchema(): JsonSchema {
  const schema = relConfigSchema({ file: '/rel.config.yaml', env: {}, texts: [] });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'rel.config.yaml',
    ...render(schema as z.ZodType),
  };
}
