// The paastech command lands here (see the CLI issue).
export {};
