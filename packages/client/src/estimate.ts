import type { ChatMessage } from '@autellix/protocol';

/**
 * Rough prompt length in tokens: one token per 4 characters of the prompt text plus every
 * message's content, at least 1. Returns null when neither `prompt` nor `messages` is given
 * (an empty string or an empty array counts as given, and estimates to 1).
 */
export function estimatePromptTokens(input: { readonly prompt?: string; readonly messages?: readonly ChatMessage[] }): number | null {
  if (input.prompt === undefined && input.messages === undefined) return null;
  let chars = input.prompt?.length ?? 0;
  for (const m of input.messages ?? []) chars += m.content.length;
  return Math.max(1, Math.ceil(chars / 4));
}
