import { render } from "preact";
import { registerSW } from "virtual:pwa-register";
import { App } from "./app";
import { OfflineStore } from "./offline";
import "./styles.css";

registerSW({ immediate: true });

OfflineStore.open().then((store) => render(<App store={store} />, document.getElementById("root")!));
