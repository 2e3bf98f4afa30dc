// Placeholder until the UI issue: shows that the renderer bundle builds and loads.
const root = document.getElementById('root');
if (root) root.textContent = 'Cache Admin';
