// Generated client and its helpers land here (see the CLI issue).
export {};
