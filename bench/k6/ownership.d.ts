export function ownedConversation(v: number, k: number, maxVus: number, conversations: number): number
