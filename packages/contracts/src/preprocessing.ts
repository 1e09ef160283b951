import { z } from 'zod';

/**
 * How raw pixels become the model's input tensor. Recorded in every manifest so a map can be
 * reproduced: the same bytes + the same spec give the same tensor.
 */
export const preprocessingSchema = z.object({
  /** Model input size in pixels. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /**
   * How the image is fitted to width × height: `fill` stretches (aspect ratio lost), `cover`
   * crops the centre, `contain` letterboxes with black.
   */
  fit: z.enum(['fill', 'cover', 'contain']),
  channelOrder: z.enum(['rgb', 'bgr']),
  /** value = (pixel × scale − mean[c]) / std[c], pixel in 0…255, c in channelOrder. */
  scale: z.number().positive(),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});
export type PreprocessingSpec = z.infer<typeof preprocessingSchema>;
