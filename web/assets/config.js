// Deployment override of the service addresses (see common.js). Empty for ./dev run, where the
// services listen on the ports after this page's. Example for one origin behind a reverse proxy:
// window.CHILDCARE_API = { filing: "", inspection: "", credit: "", reporting: "" };
