// Placeholder until the Electron issue: the desktop window is not built yet.
console.log('Cache Admin: the desktop window arrives with the Electron issue.');
