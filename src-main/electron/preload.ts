// Placeholder until the Electron issue.
export {};
