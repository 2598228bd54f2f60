//! A provider that tries a chain of providers in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use hermes_core::provider::{ChatRequest, EventStream, ModelInfo, Provider, ProviderError};
use tokio_util::sync::CancellationToken;

/// Tries providers in order (Hermes' `fallback_providers`). When a provider's `stream()`
/// fails before any event with an error whose [`ProviderError::should_fall_back`] is
/// true, the next one is tried. Errors in the middle of an answer are passed on as they
/// are (part of the answer has already reached the caller).
///
/// The fallback is sticky, as in Hermes (a fallback activates once per session): after
/// provider *k* answers, later calls start with provider *k*. [`Provider::info`] reports
/// the provider that answered last (the primary until a fallback has answered), so usage
/// and cost are recorded against the model that actually ran. [`FallbackProvider::reset`]
/// goes back to the primary.
pub struct FallbackProvider {
    providers: Vec<Arc<dyn Provider>>,
    current: AtomicUsize,
}

impl FallbackProvider {
    /// A chain with the primary first. Fails when `providers` is empty.
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Result<FallbackProvider, ProviderError> {
        if providers.is_empty() {
            return Err(ProviderError::Config(
                "no model provider configured; set model.provider or fallback_providers"
                    .to_string(),
            ));
        }
        Ok(FallbackProvider {
            providers,
            current: AtomicUsize::new(0),
        })
    }

    /// The providers, primary first.
    pub fn providers(&self) -> &[Arc<dyn Provider>] {
        &self.providers
    }

    /// The position in the chain of the provider calls start with.
    pub fn active_index(&self) -> usize {
        self.current
            .load(Ordering::Relaxed)
            .min(self.providers.len() - 1)
    }

    /// Starts the next call with the primary again.
    pub fn reset(&self) {
        self.current.store(0, Ordering::Relaxed);
    }
}

#[async_trait]
impl Provider for FallbackProvider {
    fn info(&self) -> &ModelInfo {
        self.providers[self.active_index()].info()
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let start = self.active_index();
        let mut last_error = None;
        for (i, provider) in self.providers.iter().enumerate().skip(start) {
            match provider.stream(request, cancel).await {
                Ok(stream) => {
                    if i != start {
                        let info = provider.info();
                        tracing::warn!(
                            provider = info.provider.as_str(),
                            model = info.model.as_str(),
                            "switched to fallback provider for the rest of the session"
                        );
                    }
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(stream);
                }
                Err(e) if e.should_fall_back() && i + 1 < self.providers.len() => {
                    let next = self.providers[i + 1].info();
                    tracing::warn!(
                        class = e.class(),
                        next_provider = next.provider.as_str(),
                        next_model = next.model.as_str(),
                        "model call failed, trying the next provider: {e}"
                    );
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| ProviderError::Config("no model provider left to try".to_string())))
    }
}
