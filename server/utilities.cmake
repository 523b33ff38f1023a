# holdfastd's self-contained building blocks: verification-code senders, metrics and
# structured logs. server/CMakeLists.txt includes this file, compiles
# ${HOLDFAST_SERVER_UTILITY_SOURCES} into holdfast_server and links
# ${HOLDFAST_SERVER_UTILITY_DEPS} (privately: no public header of these sources includes
# Boost, OpenSSL or nlohmann_json).
set(HOLDFAST_SERVER_UTILITY_SOURCES src/code_sender.cc src/log.cc src/metrics.cc)
set(HOLDFAST_SERVER_UTILITY_DEPS
    Boost::boost OpenSSL::SSL nlohmann_json::nlohmann_json Threads::Threads)

holdfast_test(server_utilities_test
  SOURCES src/code_sender_test.cc src/log_test.cc src/metrics_test.cc
  DEPS holdfast::server holdfast::crypto ${HOLDFAST_SERVER_UTILITY_DEPS})
