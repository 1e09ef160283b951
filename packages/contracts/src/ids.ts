import { z } from 'zod';

/** Inference ids become storage key segments, so they are restricted to a safe alphabet. */
export const inferenceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, 'ids are 1–128 characters of A–Z, a–z, 0–9, "_" or "-"');
