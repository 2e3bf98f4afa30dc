// `npm start`: the desktop app arrives with the Electron issue; until then say so plainly.
console.log('Cache Admin: the desktop window is not built yet (it arrives with the Electron issue).');
console.log('Use the CLI meanwhile: npm run --silent cli -- --help');
