import { defineConfig } from "vitest/config";
import preact from "@preact/preset-vite";
import { VitePWA } from "vite-plugin-pwa";

// The build goes into the Python package, which serves it at /app/ (package data).
export default defineConfig({
  base: "/app/",
  plugins: [
    preact(),
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: false,
      manifest: {
        name: "Helios responder",
        short_name: "Helios",
        description: "Alerts and incidents for the people on call",
        start_url: "/app/",
        scope: "/app/",
        display: "standalone",
        background_color: "#10151c",
        theme_color: "#10151c",
        icons: [
          { src: "icons/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "icons/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "icons/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any" },
        ],
      },
      workbox: {
        globPatterns: ["**/*.{js,css,html,svg,png}"],
        navigateFallback: "/app/index.html",
        // The API is never cached by the worker: the app keeps its own copy (IndexedDB).
        navigateFallbackDenylist: [/^\/v1\//, /^\/schema/],
      },
    }),
  ],
  build: {
    outDir: "../src/helios/apps/http/webapp",
    emptyOutDir: true,
    target: "es2022",
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
